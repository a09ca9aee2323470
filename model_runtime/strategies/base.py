"""What every next-edit strategy takes and returns: a ``Request`` in, ``Proposals`` (edit texts) out.

A strategy turns the buffer, the cursor, the recent edits and a model into candidate *insertion* edits; what
happens next is the same for all of them (``suggestions.validate``: apply, pyflakes, deduplicate, rank). A candidate
may be a plan of several steps (``Proposal.later``): the ``rewrite`` and ``fim`` strategies split the lines they add
into lint-clean insertion steps (``model_runtime.insertion_steps``), which the editor offers one step at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from model_runtime.auto_import import with_imports
from model_runtime.edits import diff_states
from model_runtime.generation import CancelFlag, Timings
from model_runtime.insertion_steps import insertion_states
from model_runtime.prompts import UNPARSED


@dataclass(frozen=True)
class Request:
    """One request for next edits; ``line`` is the 0-based cursor line (None: the end of the buffer)."""

    buffer: str
    line: int | None = None
    instruction: str | None = None
    history: Sequence[str] = ()  # the user's recent edits, oldest first (edit texts, ``edits.diff_states``)
    k: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 128
    seed: int | None = None
    cancel: CancelFlag | None = None
    on_token: Callable[[int, str], None] | None = None
    window: int = 80
    tree: Any = UNPARSED  # the buffer's Outline when the caller has it (prompts.UNPARSED: parse it here)
    mode: str = "whole"  # the lintseq strategy's way of writing the buffer (prompts.MODES)
    cache_key: Hashable = None  # the prompt cache to reuse (a document's URI; ``generation.generate``)


class Proposal(NamedTuple):
    """One candidate: its first edit's text, its score (mean token log-probability) and its later steps' edits."""

    text: str
    score: float
    later: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proposals:
    """A strategy's candidates and what it could not turn into one."""

    outputs: list[Proposal]
    timings: Timings | None = None
    # Lines of the buffer the prompt left out; outputs count lines without them (lintseq strategy only).
    hidden: tuple[int, ...] = ()
    append_at: int | None = None
    malformed: int = 0  # output that holds no edit: cut off by the token limit, or not readable
    non_insertions: int = 0  # answers that would delete or change buffer lines (rewrite)
    extra: dict = field(default_factory=dict)


def plan(buffer: str, final: str, added: Sequence[bool], score: float) -> Proposal | None:
    """The insertion from ``buffer`` to ``final`` as a plan of lint-clean steps (None when nothing is added); the
    imports its new lines need but lack are added first (``auto_import``)."""
    if not any(added):
        return None
    final, added = with_imports(final, added)
    states = [buffer, *insertion_states(buffer, final, added)]
    edits = [diff_states(before, after, trim=True) for before, after in zip(states, states[1:], strict=False)]
    edits = [edit for edit in edits if edit.strip()]
    if not edits:
        return None
    return Proposal(edits[0], score, tuple(edits[1:]))


def insert_lines(
    lines: Sequence[str], inserts: Sequence[tuple[int, Sequence[str]]]
) -> tuple[str, list[bool]]:
    """``lines`` with each ``(before line i, new lines)`` inserted: the new text and which of its lines are new."""
    out: list[str] = []
    added: list[bool] = []
    by_line: dict[int, list[str]] = {}
    for at, new in inserts:
        by_line.setdefault(at, []).extend(new)
    for i in range(len(lines) + 1):
        for text in by_line.get(i, ()):
            out.append(text)
            added.append(True)
        if i < len(lines):
            out.append(lines[i])
            added.append(False)
    return "\n".join(out), added
