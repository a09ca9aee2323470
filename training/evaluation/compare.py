"""Is one HumanEval run better than another? A paired bootstrap over the problems both runs scored.

Two runs of 164 problems that differ by a few passing samples (13 against 17, say) can differ by chance alone: the
problems are a small sample and pass@k is spread over few of them. Pairing by problem removes the difference in
problem difficulty; resampling the problems (with replacement) then gives an interval for the difference of mean
pass@k. An interval that contains 0 means the two runs are not told apart by these problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from training.evaluation.passk import pass_at_k


@dataclass(frozen=True)
class Difference:
    """Mean pass@k (or another per-problem score) of runs A and B on their shared problems, A - B, and its
    bootstrap interval (fractions)."""

    k: int
    a: float
    b: float
    delta: float
    low: float
    high: float
    a_better: float  # share of resamples in which A's mean is above B's
    problems: int


def shared_counts(
    records_a: Sequence[Mapping], records_b: Sequence[Mapping]
) -> tuple[list[str], list[tuple[int, int]], list[tuple[int, int]]]:
    """The task ids both runs scored (in A's order) and each run's ``(n, passed)`` on them.

    Raises ValueError for a record without a task id, ``n`` or ``passed`` (not a results file of `eval humaneval`).
    """
    try:
        by_id_a = {r["task_id"]: r for r in records_a}
        by_id_b = {r["task_id"]: r for r in records_b}
        ids = [t for t in by_id_a if t in by_id_b]
        counts_a = [(int(by_id_a[t]["n"]), int(by_id_a[t]["passed"])) for t in ids]
        counts_b = [(int(by_id_b[t]["n"]), int(by_id_b[t]["passed"])) for t in ids]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"a record lacks a usable task_id, n or passed ({error!r})") from error
    return ids, counts_a, counts_b


def paired_bootstrap(
    records_a: Sequence[Mapping],
    records_b: Sequence[Mapping],
    ks: Sequence[int],
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Difference]:
    """One `Difference` per k that every shared problem has enough samples for, in the order of ``ks``.

    Raises ValueError when the runs share no problem, or when no k fits their sample counts.
    """
    if resamples < 1:
        raise ValueError(f"need at least one resample, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    ids, counts_a, counts_b = shared_counts(records_a, records_b)
    if not ids:
        raise ValueError("the two runs share no problem")
    smallest = min(n for n, _ in counts_a + counts_b)
    usable = [k for k in ks if 1 <= k <= smallest]
    if not usable:
        raise ValueError(f"no k in {list(ks)} fits runs with {smallest} samples per problem")
    differences = []
    for k in usable:
        a = [pass_at_k(n, c, k) for n, c in counts_a]
        b = [pass_at_k(n, c, k) for n, c in counts_b]
        d = paired_difference(a, b, resamples=resamples, confidence=confidence, seed=seed)
        differences.append(replace(d, k=k))
    return differences


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """Mean of ``a`` - ``b`` (one score per shared item, paired by position) and its bootstrap interval: the items
    resampled with replacement, the same resamples for every call with the same seed and item count. ``k`` is 0."""
    if len(a) != len(b) or not a:
        raise ValueError(f"need paired scores for at least one item, got {len(a)} and {len(b)}")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    tail = (1 - confidence) / 2
    means = (x - y)[picks].mean(axis=1)
    low, high = np.quantile(means, [tail, 1 - tail])
    return Difference(
        k=0,
        a=float(x.mean()),
        b=float(y.mean()),
        delta=float((x - y).mean()),
        low=float(low),
        high=float(high),
        a_better=float((means > 0).mean()),
        problems=len(x),
    )


def differences_table(differences: Sequence[Difference], confidence: float = 0.95) -> str:
    """A Markdown table of `paired_bootstrap`'s result, in percent."""
    lines = [
        f"| k | A | B | A - B | {confidence:.0%} interval | A above B in | problems |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in differences:
        lines.append(
            f"| {d.k} | {100 * d.a:.1f} | {100 * d.b:.1f} | {100 * d.delta:+.1f} | "
            f"{100 * d.low:+.1f} to {100 * d.high:+.1f} | {d.a_better:.0%} | {d.problems} |"
        )
    return "\n".join(lines)
