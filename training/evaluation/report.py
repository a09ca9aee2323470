"""The evaluation report: a Markdown table of pass@k and diversity, and a pass@k-vs-k plot (PNG)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from training.evaluation.edit_format import CLASSES as EDIT_FORMAT_CLASSES
from training.evaluation.edit_format import edit_format_class
from training.evaluation.results import Summary, read_records, summarise


def run_label(config: Mapping, fallback: str = "") -> str:
    """A results file's row label: model name, ``+ adapter`` name, prompt mode, ``chat`` when templated,
    ``repaired`` when misplaced edits were moved (``--repair``), the quantisation when not none."""
    parts = [Path(str(config.get("model") or fallback)).name]
    if config.get("adapter"):
        parts.append(f"+ {adapter_name(str(config['adapter']))}")
    parts.append(str(config.get("mode", "")))
    if config.get("chat"):
        parts.append("chat")
    if config.get("repair"):
        parts.append("repaired")
    if config.get("quantize"):
        parts.append(str(config["quantize"]))
    return " ".join(p for p in parts if p)


def adapter_name(path: str) -> str:
    """An adapter directory's name; a training run's ``final``, ``merged`` or ``checkpoint-N`` keeps the run's name
    (``baseline-main/final``), because every run has one."""
    adapter = Path(path)
    if adapter.name in ("final", "merged") or adapter.name.startswith("checkpoint-"):
        return f"{adapter.parent.name}/{adapter.name}"
    return adapter.name


def load_runs(paths: Sequence[Path]) -> dict[str, list[dict]]:
    """Each results JSONL's records under its row label; ValueError names a file without results."""
    runs: dict[str, list[dict]] = {}
    for path in paths:
        records = read_records(Path(path))
        if not records:
            raise ValueError(f"{path} has no results")
        runs[run_label(records[0].get("config", {}), Path(path).stem)] = records
    return runs


def results_table(paths: Sequence[Path], ks: Sequence[int] = (1, 5, 10)) -> str:
    """The Markdown table for results files (one row each), as `editseq eval report` prints it."""
    return format_table([(label, summarise(recs, ks)) for label, recs in load_runs(paths).items()], ks)


def format_table(rows: Sequence[tuple[str, Summary]], ks: Sequence[int] = (1, 5, 10)) -> str:
    """A Markdown table, one row per labelled summary: problems, n, pass@k (percent), diversity, well-formed edit
    sequences (percent; lintseq mode only), verdict counts."""
    head = [
        "run",
        "problems",
        "n",
        *(f"pass@{k}" for k in ks),
        "distinct programs",
        "distinct ASTs",
        "well-formed",
        "verdicts",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, s in rows:
        cells = [label, str(s.problems), str(s.n)]
        cells += [f"{100 * s.pass_at_k[k]:.1f}" if k in s.pass_at_k else "-" for k in ks]
        cells += [f"{s.distinct_programs:.2f}", f"{s.distinct_asts:.2f}"]
        cells.append("-" if s.well_formed is None else f"{100 * s.well_formed:.1f}")
        cells.append(", ".join(f"{v} {c}" for v, c in s.verdicts.items()))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# How a sample's failure reads in the report, by the exception that ended it (``detail`` starts with its name).
_NO_PROGRAM = ("SyntaxError", "IndentationError", "TabError")


def failure_class(sample: Mapping) -> str:
    """One sample's outcome in words: passed, does not parse, wrong answer, runtime error, or the sandbox verdict."""
    verdict, detail = sample.get("verdict", ""), str(sample.get("detail", ""))
    if verdict != "failed":
        return verdict
    name = detail.split(":", 1)[0].strip()
    if name in _NO_PROGRAM:
        return "does not parse"
    if name == "AssertionError":
        return "wrong answer"
    return "runtime error"


def failures_table(runs: Mapping[str, Sequence[dict]]) -> str:
    """A Markdown table of how each run's samples ended, in percent of its samples (each row sums to 100)."""
    counts = {
        label: Counter(failure_class(s) for r in records for s in r.get("samples", []))
        for label, records in runs.items()
    }
    return _share_table(counts, sorted({c for row in counts.values() for c in row}, key=_class_order))


def edit_format_table(runs: Mapping[str, Sequence[dict]]) -> str | None:
    """A Markdown table of why the lintseq-mode runs' samples are (not) well-formed edit sequences, in percent of
    each run's samples (``training.evaluation.edit_format``); None when no run is in lintseq mode."""
    counts = {
        label: Counter(
            edit_format_class(s["raw"]) for r in records for s in r.get("samples", []) if "raw" in s
        )
        for label, records in runs.items()
        if any(r.get("config", {}).get("mode") == "lintseq" for r in records)
    }
    if not counts:
        return None
    return _share_table(counts, [c for c in EDIT_FORMAT_CLASSES if any(row[c] for row in counts.values())])


def _share_table(counts: Mapping[str, Counter], classes: Sequence[str]) -> str:
    lines = ["| run | samples | " + " | ".join(classes) + " |", "|" + "---|" * (len(classes) + 2)]
    for label, row in counts.items():
        total = sum(row.values())
        cells = [f"{100 * row[c] / total:.1f}" if total else "-" for c in classes]
        lines.append(f"| {label} | {total} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _class_order(name: str) -> tuple[int, str]:
    known = ["passed", "wrong answer", "runtime error", "does not parse"]
    return (known.index(name), "") if name in known else (len(known), name)


def plot_pass_at_k(curves: Mapping[str, Mapping[int, float]], path: Path, title: str = "HumanEval") -> Path:
    """Write a PNG with one pass@k-vs-k line per run (k on a log-2 axis)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, curve in curves.items():
        ks = sorted(curve)
        ax.plot(ks, [100 * curve[k] for k in ks], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
