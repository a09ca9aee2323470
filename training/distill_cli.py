"""``editseq data distill``: the model's own verified solutions to a corpus's instructions, as a new corpus
(``training.distill``). Resumable: every program's outcome is appended to ``OUT.log.jsonl`` as it finishes, and a
rerun of the same command skips those and writes ``OUT`` again from the whole log."""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from pathlib import Path

import typer


def distill_command(
    corpus_path: Path = typer.Argument(
        ..., help="A corpus JSONL (`editseq data corpus`, best with --self-contained)."
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Corpus JSONL to write: the distilled programs."),
    model: str = typer.Option(
        "default", help="A registry name ('default': the default model) or a model path."
    ),
    n: int = typer.Option(4, "-n", min=1, max=64, help="Solutions sampled per instruction."),
    temperature: float = typer.Option(0.8, min=0.0, help="Sampling temperature (0: one greedy solution)."),
    top_p: float = typer.Option(0.95, min=0.0, max=1.0),
    max_new_tokens: int = typer.Option(384, min=16, help="Longest solution, in tokens."),
    split: str = typer.Option(
        "train",
        help="Distill this split; the other rows are copied unchanged (their originals stay the yardstick).",
    ),
    limit: int = typer.Option(None, min=1, help="Only the first N programs of the split."),
    quantize: str = typer.Option("int8", help="none or int8 (CPU)."),
    seed: int = typer.Option(0),
    originals: bool = typer.Option(
        False,
        "--originals",
        help="No model: check each original program against itself, to see how many functions the checks can "
        "verify at all (the ceiling of what distillation can keep).",
    ),
) -> None:
    """Let the model write each instruction's function; keep what behaves like the original (doctests and calls
    on sampled inputs, in the sandbox). Then `editseq data records OUT` makes LintSeq sequences of it."""
    from training.corpus import Program
    from training.distill import as_generation, distill, key_of
    from training.evaluation.results import append_record, read_records
    from training.jsonl import write_jsonl

    programs = _read_corpus(corpus_path, Program)
    chosen = [p for p in programs if p.split == split and p.name][:limit]
    if not chosen:
        typer.echo(f"error: {corpus_path} has no function in the {split!r} split", err=True)
        raise typer.Exit(2)
    log_path = out.with_name(out.name + ".log.jsonl")
    config = {"model": "originals" if originals else model, "n": n, "temperature": temperature, "top_p": top_p,
              "max_new_tokens": max_new_tokens, "quantize": quantize, "seed": seed}  # fmt: skip
    earlier = read_records(log_path)
    if any(row.get("config") != config for row in earlier):
        typer.echo(
            f"error: {log_path} was written with other settings; use another --out or delete it", err=True
        )
        raise typer.Exit(2)
    done = frozenset(row["key"] for row in earlier)
    if originals:
        generate = as_generation
    else:
        generate = model_generate(model, quantize, n, temperature, top_p, max_new_tokens, seed)
    todo = sum(key_of(p) not in done for p in chosen)
    typer.echo(
        f"{len(chosen)} {split} programs, {len(chosen) - todo} done earlier, {todo} to go ({log_path})"
    )
    started = time.perf_counter()
    outcomes = distill(chosen, generate, done=done)
    for number, outcome in enumerate(outcomes, 1):
        append_record(log_path, outcome.to_json() | {"config": config})
        told = "kept" if outcome.program else "none"
        typer.echo(f"[{number}/{todo}] {outcome.key}: {told} ({'; '.join(outcome.reasons)}) "
                   f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    rows = [r for r in read_records(log_path) if r.get("config") == config]
    kept = [r["program"] for r in rows if r["kept"]]
    others = [p.to_json() for p in programs if p.split != split]
    write_jsonl(out, [*kept, *others])
    reasons = Counter(reason.split(":")[0] for r in rows if not r["kept"] for reason in r["reasons"])
    typer.echo(
        f"{len(kept)} of {len(rows)} {split} programs distilled -> {out} (+ {len(others)} other rows copied)"
    )
    typer.echo("candidates not kept: " + json.dumps(dict(reasons.most_common())))


def model_generate(
    model: str, quantize: str, n: int, temperature: float, top_p: float, max_new_tokens: int, seed: int
):
    """``n`` answers of ``model`` to a program's instruction, through HumanEval's instruct prompt (``--mode code``)."""
    from training.datasets import chat_prompt
    from training.distill import problem_for
    from training.evaluation.common import load_for_eval
    from training.evaluation.humaneval import FENCE, build_prompt
    from training.evaluation.sampling import sample_batch

    loaded = load_for_eval(model, None, "auto", "auto", False, quantize)
    if not getattr(loaded.tokenizer, "chat_template", None):
        typer.echo(f"error: {model} has no chat template; distillation asks an instruct model", err=True)
        raise typer.Exit(2)

    def generate(program) -> list[str]:
        prompt = build_prompt(
            problem_for(program), "code", lambda text, mode: chat_prompt(loaded.tokenizer, text, mode)
        )
        return sample_batch(
            loaded, [prompt], n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
            stop=(FENCE,), batch_size=n, seed=seed * 100_003 + zlib.crc32(prompt.encode()) % 100_003,
        )[0]  # fmt: skip

    return generate


def _read_corpus(path: Path, program_type) -> list:
    """The corpus's programs; a clear error for a missing file or a row that is not a program."""
    from training.jsonl import jsonl_rows

    if not path.is_file():
        typer.echo(f"error: no corpus at {path}", err=True)
        raise typer.Exit(2)
    programs = []
    for line_no, row in jsonl_rows(path):
        try:
            if isinstance(row, Exception):
                raise row
            programs.append(program_type(**row))
        except (TypeError, ValueError) as exc:
            typer.echo(f"error: {path}:{line_no} is not a corpus row ({exc})", err=True)
            raise typer.Exit(2) from exc
    return programs
