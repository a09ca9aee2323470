"""The yardstick of a retraining run: next edits from the repository's own git history, held out by time.

The newest ``--history-cases`` cases of the real-history benchmark (``training.evaluation.git_history``: blocks of
1-12 lines a commit inserted into a ``.py`` file) are held out; training reads the repository's tracked files as
they stood at the parent of the oldest held-out commit (a ``git archive`` snapshot), so no line a held-out commit
wrote is in the training data. Both models are scored on those cases before the server switches (``verdict``):
the new model is kept only if its mean line F1 is above the starting model's on the same cases. A directory that
is not a git repository, or a history without such insertions, falls back to the held-out files' cases.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from training.evaluation.compare import Difference, paired_difference
from training.evaluation.git_history import GitCase, build_cases, run_git

# The buffer after the commit's other hunks, those hunks given as recent edits: as the editor sees it.
VARIANT = "replay"


@dataclass(frozen=True)
class HistoryPlan:
    """Which history is held out: the commit the cases were built from, the tree training reads, or why none."""

    head: str | None  # the commit the cases come from (recorded, so a resumed run rebuilds the same cases)
    cut: str | None  # the revision whose tree training reads; None: the working tree
    cases: int
    reason: str = ""  # why there is no history yardstick, when there is none

    def to_json(self) -> dict:
        return {"head": self.head, "cut": self.cut, "cases": self.cases, "reason": self.reason}


def plan_history(repo: Path, limit: int) -> HistoryPlan:
    """Hold out the newest ``limit`` history cases of ``repo``'s HEAD (none when ``limit`` is 0)."""
    if limit <= 0:
        return HistoryPlan(None, None, 0, "no history cases asked for (--history-cases 0)")
    try:
        head = run_git(repo, "rev-parse", "--verify", "HEAD^{commit}").decode().strip()
    except (subprocess.CalledProcessError, OSError):
        return HistoryPlan(None, None, 0, "not a git repository with commits")
    cases = history_cases(repo, head, limit)
    if not cases:
        return HistoryPlan(
            head, None, 0, "its history has no insertion of 1-12 lines into a modified .py file"
        )
    return HistoryPlan(head, f"{cases[-1].commit}^", len(cases))  # cases come newest first


@functools.lru_cache(maxsize=2)
def history_cases(repo: Path, head: str, limit: int) -> tuple[GitCase, ...]:
    """The newest ``limit`` cases of ``head``'s history (the same for the same arguments; kept, so that planning
    and then scoring a run walk the history once)."""
    try:
        cases, _ = build_cases(repo, head, limit=limit)
    except subprocess.CalledProcessError:
        return ()
    return tuple(cases)


def snapshot(repo: Path, rev: str, target: Path) -> Path:
    """``repo``'s tracked files at ``rev`` under ``target`` (written once, in place only when whole)."""
    done = target / ".editseq-snapshot"
    if done.is_file() and done.read_text() == rev:
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    archive = run_git(repo, "archive", "--format=tar", rev)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, filter="data")  # refuses absolute paths, links out of the tree and device files
    (tmp / ".editseq-snapshot").write_text(rev)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


@dataclass(frozen=True)
class Verdict:
    """Whether the server should switch to the retrained model, and the paired comparison that decided it."""

    adopt: bool
    yardstick: str  # "history" (held-out next edits from git) or "held-out files"
    difference: Difference  # after - before, mean line F1 per case, bootstrap interval

    def to_json(self) -> dict:
        d = self.difference
        return {
            "adopt": self.adopt,
            "yardstick": self.yardstick,
            "cases": d.problems,
            "before_line_f1": d.b,
            "after_line_f1": d.a,
            "difference": d.delta,
            "low": d.low,
            "high": d.high,
            "after_better_in": d.a_better,
        }


def verdict(before: list[dict], after: list[dict], yardstick: str) -> Verdict:
    """Adopt the new model only if its mean line F1 is above the starting model's on the cases both scored."""
    by_case = {row["case"]: row["line_f1"] for row in before}
    shared = [(row["line_f1"], by_case[row["case"]]) for row in after if row["case"] in by_case]
    if not shared:
        raise ValueError("the before and after runs scored no case in common")
    difference = paired_difference([a for a, _ in shared], [b for _, b in shared])
    return Verdict(difference.delta > 0, yardstick, difference)
