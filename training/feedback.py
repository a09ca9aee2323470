"""Training records from the language server's suggestions log (``lsp_server.suggestion_log``): the user's verdicts.

An *accepted* suggestion is a real next edit for a real buffer, so it becomes one LintSeq record in the form the
server prompts with (``whole`` mode): the buffer as one insertion from the empty program, then the accepted edit.
The instruction is derived from the buffer as the server derives it (the enclosing function's header and docstring).

*Rejected* suggestions are not turned into training text. Supervised finetuning can only make text more likely;
a rejected edit says what not to write, which needs a preference objective (DPO and the like) with a matching
accepted edit for the same buffer, and the log rarely holds such pairs. They are counted in the report (the
acceptance rate is a cheap signal of how well the model fits the repository) and left for a preference-tuning step.

Only events for files inside the repository being retrained count (the log is shared by every project the user
opens), and never for held-out files, whose next edits the benchmark scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from model_runtime import lint
from model_runtime.edits import apply_edit, edits_from_states, normalise
from model_runtime.prompts import derive_instruction


@dataclass
class FeedbackStats:
    accepted: int = 0
    rejected: int = 0
    shown: int = 0
    used: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_json(self) -> dict:
        return {
            "shown": self.shown,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "used": self.used,
            "skipped": dict(self.skipped),
        }


def uri_path(uri: str) -> Path | None:
    """The local path of a ``file://`` URI, else None."""
    parsed = urlparse(uri or "")
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def relative_in(repo: Path, uri: str) -> str | None:
    """The path of ``uri`` relative to ``repo`` (POSIX form), or None when the file lies outside it."""
    path = uri_path(uri)
    if path is None:
        return None
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return None


def accepted_record(buffer: str, suggestion: str, line: int | None) -> dict | None:
    """The LintSeq record for one accepted edit, or None when the edit does not apply or adds a lint error."""
    try:
        after = apply_edit(buffer, suggestion)
    except ValueError:  # EditFormatError, EditApplyError: a log line from another format version
        return None
    if normalise(after) == normalise(buffer) or lint.new_errors(buffer, after):
        return None
    edits = [*edits_from_states(["", buffer]), suggestion]
    return {
        "kind": "lintseq",
        "instruction": derive_instruction(buffer, line),
        "edits": edits,
        "split": "train",
        "source": "suggestions-log",
    }


def feedback_records(
    rows: Iterable[dict], repo: Path, *, held_out: frozenset[str] = frozenset()
) -> tuple[list[dict], FeedbackStats]:
    """Records from log rows (accepted edits in ``repo``, outside ``held_out`` paths), deduplicated, with counts."""
    stats = FeedbackStats()
    records: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if not isinstance(row, dict) or row.get("event") not in ("shown", "accepted", "rejected"):
            stats.skip("not an event")
            continue
        rel = relative_in(repo, str(row.get("uri", "")))
        if rel is None:
            stats.skip("outside the repository")
            continue
        event = row["event"]
        setattr(stats, event, getattr(stats, event) + 1)
        if event != "accepted":
            continue
        if rel in held_out:
            stats.skip("held-out file")
            continue
        buffer, suggestion = row.get("buffer"), row.get("suggestion")
        if not isinstance(buffer, str) or not isinstance(suggestion, str):
            stats.skip("no buffer or suggestion")
            continue
        if (buffer, suggestion) in seen:
            stats.skip("repeated")
            continue
        seen.add((buffer, suggestion))
        line = row.get("line") if isinstance(row.get("line"), int) else None
        record = accepted_record(buffer, suggestion, line)
        if record is None:
            stats.skip("does not apply cleanly")
            continue
        records.append(record)
        stats.used += 1
    return records, stats


def read_log(path: Path) -> list[dict]:
    """The rows of a suggestions log; unreadable lines are left out (the server may have been killed mid-write)."""
    from training.jsonl import jsonl_rows

    return [row for _, row in jsonl_rows(path) if isinstance(row, dict)]
