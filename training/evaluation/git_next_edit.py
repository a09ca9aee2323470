"""The next-edit benchmark on real history: the top suggestion for each git case scored, resumably, and summarised.

Cases come from ``training.evaluation.git_history``. For every case and variant (``plain``: the parent's file;
``replay``: the commit's other hunks applied first and given as recent edits) ``run_git_next_edit`` calls
``suggest_case(case, variant) -> SuggestResult`` once and scores ``suggestions[0]`` against the inserted lines with
``training.evaluation.edit_metrics``; no suggestion scores 0. Rows are appended to a JSONL as they finish.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from training.evaluation.compare import Difference, paired_difference
from training.evaluation.edit_metrics import edit_similarity, exact, line_f1, near
from training.evaluation.git_history import GitCase
from training.evaluation.results import append_record, resumed_rows

SuggestCase = Callable[[GitCase, str], object]  # -> model_runtime.suggestions.SuggestResult
SUBSETS = ("all", "with history")


def score(case: GitCase, variant: str, result, latency_s: float) -> dict:
    """One result row: the top suggestion of ``result`` (a ``SuggestResult``) against the case's inserted lines."""
    _, cursor, history = case.view(variant)
    top = result.suggestions[0] if result.suggestions else None
    predicted = [line for placement in top.placements for line in placement.lines] if top else []
    first_line = top.placements[0].line if top and top.placements else None
    return {
        "case": case.key,
        "variant": variant,
        "commit": case.commit,
        "path": case.path,
        "has_history": case.has_history,
        "history_edits": len(history),
        "cursor": cursor,
        "offered": top is not None,
        "exact": top is not None and exact(predicted, case.truth),
        "line_f1": line_f1(predicted, case.truth) if top else 0.0,
        "edit_similarity": edit_similarity(predicted, case.truth) if top else 0.0,
        "near": near(first_line, cursor),
        "placement_line": first_line,
        "latency_s": round(latency_s, 4),
        "buffer_error": result.buffer_error,
        "strategy": getattr(result, "strategy", "") or None,
        "suggested": predicted,
        "truth": list(case.truth),
    }


def run_git_next_edit(
    cases: Sequence[GitCase],
    variants: Sequence[str],
    suggest_case: SuggestCase,
    *,
    config: dict | None = None,
    out: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Rows for every (case, variant); those already in ``out`` are kept and not run again (a killed run resumes).

    Every row carries ``config``; resuming a file written with another one raises ConfigMismatch.
    """
    rows, done = resumed_rows(out, config, lambda row: (row["case"], row["variant"]))
    for n, case in enumerate(cases, 1):
        for variant in variants:
            if (case.key, variant) in done:
                continue
            started = time.perf_counter()
            result = suggest_case(case, variant)
            row = score(case, variant, result, time.perf_counter() - started) | {"config": config}
            rows.append(row)
            if out is not None:
                append_record(out, row)
        log(f"[{n}/{len(cases)}] {case.key}")
    wanted = {c.key for c in cases}
    return [r for r in rows if r["case"] in wanted and r["variant"] in variants]


def run_label(config: Mapping | None) -> str:
    """``model[+adapter] / strategy`` of a run's config (``default`` strategy when none was named)."""
    config = config or {}
    model = Path(str(config.get("model") or "model")).name
    adapter = f"+{Path(str(config['adapter'])).name}" if config.get("adapter") else ""
    return f"{model}{adapter} / {config.get('strategy') or 'default'}"


def _mean(rows: Sequence[dict], name: str) -> float:
    return sum(float(r[name]) for r in rows) / len(rows)


def _percentile(values: Sequence[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@dataclass(frozen=True)
class Summary:
    """The means of one (run, variant, subset) group of rows; rates are fractions."""

    label: str
    variant: str
    subset: str  # "all", or "with history": the cases whose commit changed the file elsewhere too
    cases: int
    exact: float
    line_f1: float
    edit_similarity: float
    near: float
    offered: float
    latency_p50_s: float
    latency_p95_s: float


def summarise(rows: Iterable[dict]) -> list[Summary]:
    """One `Summary` per run label and variant over all cases, and again over the cases with history."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        key = (run_label(row.get("config")), row["variant"])
        groups.setdefault((*key, "all"), []).append(row)
        if row.get("has_history"):
            groups.setdefault((*key, "with history"), []).append(row)
    summaries = []
    for (label, variant, subset), group in sorted(groups.items(), key=lambda g: (g[0][0], g[0][2], g[0][1])):
        latencies = [r["latency_s"] for r in group]
        summaries.append(
            Summary(
                label,
                variant,
                subset,
                len(group),
                *(_mean(group, name) for name in ("exact", "line_f1", "edit_similarity", "near", "offered")),
                _percentile(latencies, 50),
                _percentile(latencies, 95),
            )
        )
    return summaries


def format_summary(summaries: Sequence[Summary]) -> str:
    """A Markdown table, one row per run, variant and subset."""
    lines = [
        "| model / strategy | variant | cases | exact | line F1 | edit similarity | within 3 lines | offered "
        "| latency p50 (s) | p95 (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        variant = s.variant if s.subset == "all" else f"{s.variant} ({s.subset})"
        lines.append(
            f"| {s.label} | {variant} | {s.cases} | {100 * s.exact:.1f}% | {s.line_f1:.3f} | "
            f"{s.edit_similarity:.3f} | {100 * s.near:.1f}% | {100 * s.offered:.1f}% | {s.latency_p50_s:.3f} | "
            f"{s.latency_p95_s:.3f} |"
        )
    return "\n".join(lines)


def compare_line_f1(
    rows_a: Sequence[dict],
    rows_b: Sequence[dict],
    variant_a: str,
    variant_b: str | None = None,
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """Mean line F1 of A's ``variant_a`` rows and B's ``variant_b`` rows (default: the same variant) on the cases
    both scored, A - B, with a paired bootstrap interval over those cases (``Difference.problems`` = cases).

    Raises ValueError when they share no case.
    """
    by_case_b = {r["case"]: r for r in rows_b if r["variant"] == (variant_b or variant_a)}
    shared = [
        (r, by_case_b[r["case"]]) for r in rows_a if r["variant"] == variant_a and r["case"] in by_case_b
    ]
    if not shared:
        raise ValueError(f"no case scored in both ({variant_a} against {variant_b or variant_a})")
    return paired_difference(
        [a["line_f1"] for a, _ in shared],
        [b["line_f1"] for _, b in shared],
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


def format_difference(d: Difference, name: str, confidence: float = 0.95) -> str:
    """A Markdown table of one line-F1 `Difference`."""
    return "\n".join(
        [
            f"| compared | cases | A line F1 | B line F1 | A - B | {confidence:.0%} interval | A above B in |",
            "|---|---|---|---|---|---|---|",
            f"| {name} | {d.problems} | {d.a:.3f} | {d.b:.3f} | {d.delta:+.3f} | {d.low:+.3f} to {d.high:+.3f} "
            f"| {d.a_better:.0%} |",
        ]
    )
