"""Per-document state the server keeps next to pygls' text: lint errors, Diff History and the pending sequence.

pygls' workspace owns the text (it applies incremental changes). This module holds what EditSeq adds: the user's
recent edits as zero-context unified diffs (the Diff History context the model takes), the pyflakes findings of
the last linted version, and a multi-step suggestion the user is stepping through.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from model_runtime.edits import diff_states, normalise
from model_runtime.lint import LintError

# A diff larger than this is a paste or a file reload, not an edit a model learns from; it is left out of history.
MAX_HISTORY_DIFF_CHARS = 4_000


@dataclass
class PendingSequence:
    """Steps the user accepts one at a time: ``steps[i]`` applies to the state after step i-1. A whole generated
    sequence (``editseq.generate``), or the later steps of a suggestion planned as several (``lsp_server.plans``)."""

    start: str
    steps: list[Any]  # model_runtime.suggestions.Suggestion
    index: int = 0
    applying: bool = (
        False  # a command is applying the next step(s): the buffer is between two states meanwhile
    )

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps)

    @property
    def remaining(self) -> list[Any]:
        return self.steps[self.index :]

    @property
    def expected_before(self) -> str:
        """The buffer the next step was generated against."""
        return self.start if self.index == 0 else self.steps[self.index - 1].program

    def matches(self, text: str) -> bool:
        """Whether ``text`` is (up to surrounding blank lines) the state the next step expects."""
        return normalise(text) == normalise(self.expected_before)

    def catch_up(self, text: str) -> bool:
        """Whether ``text`` is a state of these steps at or after the next one's start; moves ``index`` past the
        steps it already holds (accepted without a command: ghost text, a code action's own edit). False: the
        buffer left the sequence (another edit), and ``index`` stays."""
        current = normalise(text)
        if current == normalise(self.expected_before):
            return True
        for index in range(self.index, len(self.steps)):
            if normalise(self.steps[index].program) == current:
                self.index = index + 1
                return True
        return False


@dataclass
class DocumentState:
    """What the server knows about one open document beyond its text."""

    uri: str
    version: int
    snapshot: str  # the text as of the last Diff History entry
    history_length: int = 5
    history: deque[str] = field(default_factory=deque)
    lint: list[LintError] = field(default_factory=list)
    lint_version: int | None = None
    change_line: int = 0  # where the user last typed: the best guess of the cursor for prefetch
    pending: PendingSequence | None = None
    # The SequenceCandidate list of the last editseq.generate, and the buffer it started from.
    candidates: list[Any] = field(default_factory=list)
    candidates_start: str = ""

    def record_history(self, text: str) -> str | None:
        """Close the current burst of typing: diff the snapshot against ``text`` into history; returns the diff."""
        diff = diff_states(self.snapshot, text, trim=True)
        self.snapshot = text
        if not diff or len(diff) > MAX_HISTORY_DIFF_CHARS or self.history_length == 0:
            return None
        self.history.append(diff)
        while len(self.history) > self.history_length:
            self.history.popleft()
        return diff

    def set_history_length(self, n: int) -> None:
        self.history_length = n
        while len(self.history) > n:
            self.history.popleft()


def changed_line(start_line: int, inserted_text: str) -> int:
    """The 0-based line the cursor is on after inserting ``inserted_text`` at ``start_line``."""
    return start_line + inserted_text.count("\n")
