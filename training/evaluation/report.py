"""The evaluation report: a Markdown table of pass@k and diversity, and a pass@k-vs-k plot (PNG)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from training.evaluation.results import Summary


def format_table(rows: Sequence[tuple[str, Summary]], ks: Sequence[int] = (1, 5, 10)) -> str:
    """A Markdown table, one row per labelled summary: problems, n, pass@k (percent), diversity, verdict counts."""
    head = [
        "run",
        "problems",
        "n",
        *(f"pass@{k}" for k in ks),
        "distinct programs",
        "distinct ASTs",
        "verdicts",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, s in rows:
        cells = [label, str(s.problems), str(s.n)]
        cells += [f"{100 * s.pass_at_k[k]:.1f}" if k in s.pass_at_k else "-" for k in ks]
        cells += [f"{s.distinct_programs:.2f}", f"{s.distinct_asts:.2f}"]
        cells.append(", ".join(f"{v} {c}" for v, c in s.verdicts.items()))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
