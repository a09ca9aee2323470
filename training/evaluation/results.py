"""Per-problem results as JSONL, appended as each problem finishes, so that a killed run resumes where it stopped.

One line per problem::

    {"task_id": ..., "config": {...}, "n": 10, "passed": 3, "diversity": {...}, "gen_s": ..., "exec_s": ...,
     "samples": [{"raw": ..., "program": ..., "verdict": "passed", "detail": ...}, ...]}

``config`` (model, mode, n, temperature, ...) is the same on every line of a file; resuming with a different one is
refused, so that a file never mixes two experiments.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from training.evaluation.edit_format import well_formed
from training.evaluation.passk import DEFAULT_KS, mean_pass_at_k


class ConfigMismatch(ValueError):
    """A results file written by a run with a different configuration."""


def read_records(path: Path) -> list[dict]:
    """Complete records of a results file; a torn last line (the run was killed mid-write) is ignored."""
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def done_task_ids(path: Path, config: dict) -> set[str]:
    """Task ids already finished in ``path`` by a run with this ``config``; raises ConfigMismatch otherwise."""
    records = read_records(path)
    for record in records:
        if record.get("config") != config:
            raise ConfigMismatch(
                f"{path} holds results of another configuration ({record.get('config')}); "
                "use another --out or delete the file"
            )
    return {r["task_id"] for r in records}


def resumed_rows(
    path: Path | None, config: dict | None, key: Callable[[dict], tuple]
) -> tuple[list[dict], set]:
    """The rows already in ``path`` (none when it is None or missing) and their keys; raises ConfigMismatch when they
    were written with another ``config`` (a killed run resumes; a changed one must not mix into the same file)."""
    rows = read_records(path) if path is not None else []
    for row in rows:
        if row.get("config") != config:
            raise ConfigMismatch(
                f"{path} holds results of another configuration; use another --out or delete it"
            )
    return rows, {key(row) for row in rows}


def append_record(path: Path, record: dict) -> None:
    """Append one record and flush it to disk before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        # A killed run may have left a torn last line; start ours on a fresh line.
        if handle.seek(0, os.SEEK_END):
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        handle.write(json.dumps(record).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class Summary:
    problems: int
    n: int
    pass_at_k: dict[int, float]
    distinct_programs: float
    distinct_asts: float
    verdicts: dict[str, int]
    well_formed: float | None = None  # lintseq mode: the share of samples that are well-formed edit sequences


def summarise(records: Sequence[dict], ks: Iterable[int] = DEFAULT_KS) -> Summary:
    """pass@k (mean over problems), mean diversity, the count of each verdict and, for lintseq-mode records, the
    share of samples that are well-formed edit sequences."""
    counts = [(r["n"], r["passed"]) for r in records]
    verdicts: dict[str, int] = {}
    for record in records:
        for sample in record.get("samples", []):
            verdicts[sample["verdict"]] = verdicts.get(sample["verdict"], 0) + 1
    with_div = [r["diversity"] for r in records if "diversity" in r]
    mean = (lambda key: sum(d[key] for d in with_div) / len(with_div)) if with_div else (lambda key: 0.0)
    return Summary(
        problems=len(records),
        n=min((n for n, _ in counts), default=0),
        pass_at_k=mean_pass_at_k(counts, list(ks)),
        distinct_programs=mean("distinct_programs"),
        distinct_asts=mean("distinct_asts"),
        verdicts=dict(sorted(verdicts.items())),
        well_formed=well_formed_share(records),
    )


def well_formed_share(records: Sequence[dict]) -> float | None:
    """The share of lintseq-mode samples whose raw text is a well-formed edit sequence; None without any."""
    raws = [
        sample["raw"]
        for record in records
        if record.get("config", {}).get("mode") == "lintseq"
        for sample in record.get("samples", [])
        if "raw" in sample
    ]
    return sum(map(well_formed, raws)) / len(raws) if raws else None
