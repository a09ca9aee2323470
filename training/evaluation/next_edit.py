"""The next-edit benchmark: does the model's top validated suggestion reproduce the true next LintSeq edit?

Held-out programs are cut into LintSeq states (``training.lintseq.sample_states``). A *case* is one step: the buffer
is state i (i >= 1), the previous diffs are the Diff History, and the truth is state i + 1. For each case and each
prompt *strategy* (a ``model_runtime.prompts`` mode, with or without the history) the model suggests k validated
edits, and we record (the ``continue``, ``rewrite`` and ``fim`` strategies are given the cursor where the true edit
goes, as an editor would):

- exact: the top suggestion's program is state i + 1 (programs compared as normalised lines);
- hit@k: any of the suggestions is;
- line F1: between the lines the top suggestion adds and the lines the true edit adds (multisets; 0 if none);
- validity: the share of the k sampled edits that were well-formed and added no lint error;
- latency: the suggest call's wall-clock time (and time to first token).

Case building and scoring are pure; ``run_next_edit`` drives any ``suggest(case, strategy)`` function.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model_runtime.edits import diff_states, edits_from_states, normalise, parse_edit
from training.evaluation.results import append_record, resumed_rows

# The lintseq strategy's prompt modes, and the runtime's other strategies (given the cursor where the true edit goes).
PROMPT_MODES = ("whole", "lintseq")
AT_CURSOR = ("continue", "rewrite", "fim")
STRATEGIES = tuple(f"{name}{extra}" for name in (*PROMPT_MODES, *AT_CURSOR) for extra in ("", "+history"))
DEFAULT_STRATEGIES = ("whole", "whole+history", "lintseq", "lintseq+history")


@dataclass(frozen=True)
class Case:
    program_id: str
    step: int
    instruction: str
    buffer: str
    history: tuple[str, ...]  # the diffs from the empty program up to ``buffer``, oldest first
    target: str  # the program after the true next edit
    target_edit: str

    @property
    def key(self) -> str:
        return f"{self.program_id}#{self.step}"

    @property
    def cursor(self) -> int:
        """The 0-based line of ``buffer`` the true next edit inserts before (where an editor's cursor would be)."""
        from model_runtime.suggestions import placements_for

        placements, _ = placements_for(self.buffer, parse_edit(self.target_edit))
        return placements[0].line if placements else len(self.buffer.split("\n"))


def strategy_options(strategy: str, history_length: int = 3) -> tuple[str, int]:
    """``(prompt mode or runtime strategy, number of history diffs)`` for a name such as ``lintseq+history`` or
    ``continue``."""
    mode, _, extra = strategy.partition("+")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    return mode, history_length if extra == "history" else 0


def cases_for(
    program_id: str, instruction: str, program: str, *, seed: int = 0, max_steps: int = 3
) -> list[Case]:
    """Up to ``max_steps`` cases from one sampled LintSeq sequence of ``program``, spread evenly over its steps.

    Returns no cases for a program that does not parse or has a single step (nothing between empty and full).
    """
    from training.lintseq import sample_states

    try:
        states = sample_states(program, samples=1, seed=seed)[0]
    except ValueError:
        return []
    steps = list(range(1, len(states) - 1))  # buffer = states[i]: non-empty and not yet complete
    if len(steps) > max_steps:
        steps = (
            [steps[round(j * (len(steps) - 1) / (max_steps - 1))] for j in range(max_steps)]
            if max_steps > 1
            else steps[:1]
        )
    return [
        Case(
            program_id,
            i,
            instruction,
            states[i],
            tuple(edits_from_states(states[: i + 1])),
            states[i + 1],
            diff_states(states[i], states[i + 1]),
        )
        for i in steps
    ]


def added_lines(edit_text: str) -> list[str]:
    """The lines an edit adds (lenient: malformed hunks contribute nothing)."""
    edit = parse_edit(edit_text, strict=False)
    return [line.rstrip() for hunk in edit.hunks for line in hunk.added]


def line_f1(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """F1 between two multisets of lines; 1.0 when both are empty."""
    if not predicted and not truth:
        return 1.0
    overlap = sum((Counter(predicted) & Counter(truth)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(truth)
    return 2 * precision * recall / (precision + recall)


def same_program(a: str, b: str) -> bool:
    return [line.rstrip() for line in normalise(a)] == [line.rstrip() for line in normalise(b)]


def score_case(case: Case, strategy: str, result, k: int, latency_s: float) -> dict:
    """One result row: exact, hit@k, line F1, validity and latency of a ``SuggestResult`` for ``case``."""
    suggestions = list(result.suggestions)
    top = suggestions[0] if suggestions else None
    valid = k - result.dropped_malformed - result.dropped_invalid
    return {
        "case": case.key,
        "strategy": strategy,
        "exact": bool(top and same_program(top.program, case.target)),
        "hit": any(same_program(s.program, case.target) for s in suggestions),
        "line_f1": line_f1(added_lines(top.edit_text), added_lines(case.target_edit)) if top else 0.0,
        "validity": max(valid, 0) / k,
        "buffer_error": result.buffer_error,
        "latency_s": round(latency_s, 4),
        "first_token_s": round(result.timings.first_token_s, 4) if result.timings else None,
        "top_edit": top.edit_text if top else None,
        "target_edit": case.target_edit,
    }


def summarise_rows(rows: Iterable[dict]) -> dict[str, dict]:
    """Per strategy: cases, exact rate, hit@k rate, mean line F1, mean validity, median and mean latency."""
    by: dict[str, list[dict]] = {}
    for row in rows:
        by.setdefault(row["strategy"], []).append(row)
    summary = {}
    for strategy, group in by.items():
        latencies = [r["latency_s"] for r in group]
        summary[strategy] = {
            "cases": len(group),
            "exact": sum(r["exact"] for r in group) / len(group),
            "hit_at_k": sum(r["hit"] for r in group) / len(group),
            "line_f1": sum(r["line_f1"] for r in group) / len(group),
            "validity": sum(r["validity"] for r in group) / len(group),
            "latency_p50_s": statistics.median(latencies),
            "latency_mean_s": statistics.fmean(latencies),
        }
    return summary


def format_summary(summary: dict[str, dict], k: int) -> str:
    """A Markdown table, one row per strategy."""
    head = f"| strategy | cases | exact | hit@{k} | line F1 | validity | latency p50 (s) | latency mean (s) |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for strategy, s in summary.items():
        lines.append(
            f"| {strategy} | {s['cases']} | {100 * s['exact']:.1f}% | {100 * s['hit_at_k']:.1f}% | "
            f"{s['line_f1']:.3f} | {100 * s['validity']:.1f}% | {s['latency_p50_s']:.3f} | {s['latency_mean_s']:.3f} |"
        )
    return "\n".join(lines)


Suggest = Callable[[Case, str], object]


def run_next_edit(
    cases: Sequence[Case],
    strategies: Sequence[str],
    suggest: Suggest,
    *,
    k: int,
    config: dict | None = None,
    out: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Score every (case, strategy); rows already in ``out`` are kept and skipped (a killed run resumes).

    Every row carries ``config``; resuming a file written with another one raises ConfigMismatch.
    """
    rows, done = resumed_rows(out, config, lambda row: (row["case"], row["strategy"]))
    for n, case in enumerate(cases, 1):
        for strategy in strategies:
            if (case.key, strategy) in done:
                continue
            started = time.perf_counter()
            result = suggest(case, strategy)
            row = score_case(case, strategy, result, k, time.perf_counter() - started) | {"config": config}
            rows.append(row)
            if out is not None:
                append_record(out, row)
        log(f"[{n}/{len(cases)}] {case.key}")
    wanted = {c.key for c in cases}
    return [r for r in rows if r["case"] in wanted and r["strategy"] in strategies]


def load_programs(paths: Sequence[Path], *, all_splits: bool = False) -> list[tuple[str, str, str]]:
    """``(id, instruction, program)`` from corpus JSONL files (only the held-out ``valid`` split unless
    ``all_splits``) and from Python files or directories (each documented function, as the corpus builder cuts it).
    """
    from training.corpus import functions_from_source

    found: list[tuple[str, str, str]] = []
    for path in paths:
        if path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if all_splits or record.get("split", "valid") == "valid":
                    name = record.get("name") or f"{path.name}:{number}"
                    found.append(
                        (
                            f"{record.get('path', path.name)}::{name}",
                            record.get("instruction", ""),
                            record["program"],
                        )
                    )
            continue
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for name, instruction, program in functions_from_source(text):
                found.append((f"{file}::{name}", instruction, program))
    return found
