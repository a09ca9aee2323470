"""Training records and token examples: LintSeq and baseline records, plain or chat text, response-only labels, packing.

A *record* is plain data: an instruction and either the edits of one LintSeq sample (``kind="lintseq"``) or the
whole program (``kind="baseline"``). ``texts`` turns a record into a prompt and a response in one of two formats:

- ``plain`` (DESIGN.md, for base models): the prompt is ``instruction + "\\n<|diff|>"`` (LintSeq) or
  ``instruction + "\\n"`` (baseline) and the response is the rest of the reference format, then eos.
- ``chat`` (for instruct models): the instruction is the user turn of the tokenizer's chat template; the assistant
  turn is the same response. For LintSeq the prompt ends with the generation prompt and the first ``<|diff|>``, so
  inference prompts look the same in both formats: they end in the separator.

Loss is on the response only: ``tokenize`` labels prompt tokens -100. ``pack`` puts several examples in one row with
position ids restarting at 0 for each; transformers turns restarting position ids into a block-diagonal causal mask
(when no attention mask is passed), so packed examples never attend to each other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model_runtime.edits import DIFF_TOKEN, baseline_text, prompt, training_text
from training.jsonl import jsonl_rows, write_jsonl

FORMATS = ("plain", "chat")
IGNORE = -100


# --- records ------------------------------------------------------------------------------------------------------


def baseline_records(programs: Iterable) -> list[dict]:
    """One baseline record (instruction + program) per program."""
    return [
        {
            "kind": "baseline",
            "instruction": p.instruction,
            "program": p.program,
            "split": p.split,
            "source": p.source,
        }
        for p in programs
    ]


def lintseq_records_for(program, samples: Sequence[Sequence[str]]) -> list[dict]:
    """LintSeq records for one program from its sampled edit sequences (each a list of edit texts)."""
    return [
        {"kind": "lintseq", "instruction": program.instruction, "edits": list(edits), "split": program.split,
         "source": program.source}
        for edits in samples
        if edits
    ]  # fmt: skip


def _sample_one(args: tuple) -> list[list[str]]:
    program_text, samples, seed = args
    from training.lintseq import sample_edits

    try:
        return sample_edits(program_text, samples=samples, seed=seed)
    except Exception:  # noqa: BLE001 - one odd program must not stop a corpus of thousands; it is counted instead
        return []


def lintseq_records(
    programs: Sequence, *, samples: int = 5, seed: int = 0, workers: int = 1, progress: Callable | None = None
) -> tuple[list[dict], int]:
    """LintSeq records, ``samples`` per program (seeded per program); returns them and how many programs failed."""
    jobs = [(p.program, samples, seed + i) for i, p in enumerate(programs)]
    if workers > 1:
        from multiprocessing import get_context

        with get_context("fork" if sys.platform == "linux" else "spawn").Pool(workers) as pool:
            results = list(pool.imap(_sample_one, jobs, chunksize=16))
    else:
        results = []
        for job in jobs:
            results.append(_sample_one(job))
            if progress:
                progress(1)
    records, failed = [], 0
    for program, sampled in zip(programs, results, strict=True):
        if not sampled:
            failed += 1
        records.extend(lintseq_records_for(program, sampled))
    return records, failed


def write_records(path: Path, records: Iterable[dict]) -> int:
    """Write records as JSONL (atomically); returns how many."""
    return write_jsonl(path, records)


def read_records(path: Path) -> list[dict]:
    """Records from JSONL; raises ValueError naming the line for a row without ``instruction`` and edits/program."""
    records = []
    for number, record in jsonl_rows(path):
        if isinstance(record, json.JSONDecodeError):
            raise ValueError(f"{path}:{number}: not JSON ({record.msg})") from record
        if not isinstance(record, dict) or not ("edits" in record or "program" in record):
            raise ValueError(f"{path}:{number}: a record needs `edits` (LintSeq) or `program` (baseline)")
        record.setdefault("kind", "lintseq" if "edits" in record else "baseline")
        record.setdefault("instruction", "")
        record.setdefault("split", "train")
        records.append(record)
    return records


# --- text ---------------------------------------------------------------------------------------------------------


def plain_texts(record: dict, eos: str) -> tuple[str, str]:
    """``(prompt, response)`` of a record in the plain format of DESIGN.md; prompt + response is the training text."""
    instruction = record["instruction"]
    if record["kind"] == "lintseq":
        full = training_text(instruction, record["edits"], eos)
        head = prompt(instruction)
    else:
        full = baseline_text(instruction, record["program"], eos)
        head = instruction + "\n"
    return head, full[len(head) :]


def chat_prompt(tokenizer, instruction: str, kind: str = "lintseq") -> str:
    """The chat-format inference prompt: the user turn, the generation prompt and, for LintSeq, ``<|diff|>``."""
    head = tokenizer.apply_chat_template(
        [{"role": "user", "content": instruction}], tokenize=False, add_generation_prompt=True
    )
    return head + DIFF_TOKEN if kind == "lintseq" else head


def chat_texts(record: dict, tokenizer) -> tuple[str, str]:
    """``(prompt, response)`` of a record in the chat format; the response ends with the tokenizer's eos."""
    _, response = plain_texts(record, tokenizer.eos_token)
    if record["kind"] == "lintseq":
        # The plain response already starts after the first separator; chat_prompt ends with the bare token.
        return chat_prompt(tokenizer, record["instruction"]), response
    return chat_prompt(tokenizer, record["instruction"], "baseline"), response


def texts(record: dict, tokenizer, fmt: str) -> tuple[str, str]:
    """``(prompt, response)`` of a record in format ``plain`` or ``chat``."""
    if fmt == "plain":
        return plain_texts(record, tokenizer.eos_token or "")
    if fmt == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("format 'chat' needs a tokenizer with a chat template; use --format plain")
        return chat_texts(record, tokenizer)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


# --- tokens -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """Token ids of one record and its labels (-100 on the prompt)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)


def tokenize(tokenizer, head: str, response: str) -> Example:
    """Token ids of ``head + response`` with labels only on tokens that start inside the response."""
    full = head + response
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    cut = len(head)
    labels = [
        tok if start >= cut else IGNORE
        for tok, (start, _) in zip(ids, encoded["offset_mapping"], strict=True)
    ]
    return Example(tuple(ids), tuple(labels))


def tokenize_records(
    records: Iterable[dict], tokenizer, fmt: str, max_length: int
) -> tuple[list[Example], int]:
    """Examples of the records that fit in ``max_length`` tokens (rather than cut, a long one is left out: a cut
    sequence would teach the model to stop mid-program); returns them and how many were too long."""
    examples, too_long = [], 0
    for record in records:
        example = tokenize(tokenizer, *texts(record, tokenizer, fmt))
        if len(example) > max_length or not any(label != IGNORE for label in example.labels):
            too_long += 1
            continue
        examples.append(example)
    return examples, too_long


@dataclass(frozen=True)
class PackedRow:
    """Several examples laid end to end: ids, labels and position ids that restart at 0 for each example."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    position_ids: tuple[int, ...]
    n_examples: int


def pack(examples: Sequence[Example], max_length: int) -> list[PackedRow]:
    """Examples packed first-fit-decreasing into rows of at most ``max_length`` tokens (deterministic)."""
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i]), i))
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(examples[i])
        if n > max_length:
            raise ValueError(f"example {i} has {n} tokens, more than the row length {max_length}")
        for b, free in enumerate(room):
            if free >= n:
                bins[b].append(i)
                room[b] -= n
                break
        else:
            bins.append([i])
            room.append(max_length - n)
    rows = []
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for i in members:
            ids.extend(examples[i].input_ids)
            labels.extend(examples[i].labels)
            positions.extend(range(len(examples[i])))
        rows.append(PackedRow(tuple(ids), tuple(labels), tuple(positions), len(members)))
    return rows


def collate(rows: Sequence[PackedRow], pad_id: int):
    """A batch of packed rows as tensors padded to the longest row: input_ids, labels, position_ids.

    Padding continues the position ids from 0 so that it forms its own packed "example", which no real token
    attends to; its labels are -100.
    """
    import torch

    width = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        n = len(row.input_ids)
        ids[b, :n] = torch.tensor(row.input_ids)
        labels[b, :n] = torch.tensor(row.labels)
        positions[b, :n] = torch.tensor(row.position_ids)
        positions[b, n:] = torch.arange(width - n)
    return {"input_ids": ids, "labels": labels, "position_ids": positions}
