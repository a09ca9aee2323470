"""The unbiased pass@k estimator (Chen et al., 2021) and its mean over problems."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

DEFAULT_KS = (1, 5, 10)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c of them correct) passes.

    Equals ``1 - C(n - c, k) / C(n, k)``, computed as a product so that large n neither overflows nor loses
    precision. Raises ValueError unless ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(counts: Iterable[tuple[int, int]], ks: Sequence[int] = DEFAULT_KS) -> dict[int, float]:
    """Mean pass@k over problems given ``(n, c)`` per problem, for each k that every problem has enough samples for."""
    counts = list(counts)
    if not counts:
        return {}
    smallest = min(n for n, _ in counts)
    return {k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in ks if 1 <= k <= smallest}


def ks_up_to(n: int, base: Sequence[int] = DEFAULT_KS) -> list[int]:
    """The k values to report for n samples: the standard ones plus powers of two, all up to n, plus n itself."""
    ks = set(base) | {2**i for i in range(n.bit_length())} | {n}
    return sorted(k for k in ks if 1 <= k <= n)
