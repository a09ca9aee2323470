"""Suggestions planned as several steps, as the editor takes them: the steps one by one, all of them as one edit,
which step a buffer is at, and the pending steps as the client's ``editseq/pending`` notice.

A ``Suggestion`` with ``steps`` (the rewrite and fim strategies split what they add into lint-clean insertions) is
offered as its first step and as all its steps at once; once the buffer holds the first step, the later ones become
the document's ``PendingSequence``, the same pending steps ``editseq.generate`` makes. Pure: text and suggestions in,
data out (model_runtime.suggestions is imported when a function runs; the server has imported it by then).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from lsp_server.documents import PendingSequence
from lsp_server.text_edits import preview_title
from model_runtime.edits import EditApplyError, EditFormatError, parse_edit

PENDING_NOTIFICATION = "editseq/pending"


def is_plan(suggestion: Any) -> bool:
    """Whether a suggestion is planned as more than one step."""
    return len(getattr(suggestion, "steps", ())) > 1


def plan_steps(suggestion: Any) -> list[Any]:
    """The suggestion's steps as suggestions of one step each: its own first step, then each later step placed in
    the program the ones before it left. Raises EditFormatError / EditApplyError for a step that does not apply
    (``suggestions.validate`` has applied them all already)."""
    from model_runtime.suggestions import Suggestion, placements_for

    steps = [dataclasses.replace(suggestion, steps=(), final_program="")]
    program = suggestion.program
    for text in suggestion.steps[1:]:
        edit = parse_edit(text)
        placements, program = placements_for(program, edit)
        steps.append(Suggestion(text, edit, placements, program, suggestion.score))
    return steps


def combined_placements(buffer: str, steps: Sequence[Any]) -> tuple[Any, ...]:
    """One insertion doing all ``steps`` (each placed in the program the ones before it left) in ``buffer``, its
    placements relative to ``buffer`` itself, as a single WorkspaceEdit needs them."""
    from model_runtime.suggestions import Placement

    # Each row of the growing program: the buffer line it was (an int) or the text a step inserted (a str).
    rows: list[int | str] = list(range(len(buffer.split("\n")))) if buffer.strip() else []
    for step in steps:
        for placement in sorted(step.placements, key=lambda p: p.line, reverse=True):
            rows[placement.line : placement.line] = list(placement.lines)
    placements: list[Placement] = []
    before = 0  # buffer lines above the current row
    for row in rows:
        if isinstance(row, int):
            before = row + 1
        elif placements and placements[-1].line == before:
            placements[-1] = Placement(before, (*placements[-1].lines, row))
        else:
            placements.append(Placement(before, (row,)))
    return tuple(placements)


def adopted_plan(buffer: str, suggestions: Sequence[Any], text: str) -> PendingSequence | None:
    """The steps left of the shown plan whose first step(s) ``text`` holds (the user took them from a code action
    or ghost text), pending from there on; None when ``text`` is no such state, or holds the whole plan."""
    for suggestion in suggestions:
        if not is_plan(suggestion):
            continue
        try:
            pending = PendingSequence(start=buffer, steps=plan_steps(suggestion))
        except (EditFormatError, EditApplyError):
            continue
        if pending.catch_up(text) and 0 < pending.index < len(pending.steps):
            return pending
    return None


def next_placements(pending: PendingSequence, text: str) -> list[Any]:
    """The next step's placements in ``text`` (which may have more or fewer blank lines on top than expected)."""
    offset = leading_blank_lines(text) - leading_blank_lines(pending.expected_before)
    return shifted(pending.steps[pending.index].placements, offset)


def remaining_placements(pending: PendingSequence, text: str) -> list[Any]:
    """All the remaining steps as one insertion in ``text``."""
    offset = leading_blank_lines(text) - leading_blank_lines(pending.expected_before)
    return shifted(combined_placements(pending.expected_before, pending.remaining), offset)


def pending_notice(uri: str, pending: PendingSequence | None, text: str) -> dict[str, Any]:
    """The ``editseq/pending`` notification: the steps left (title and placements, each step's in the program the
    ones before it leave, the first's in ``text``), the next one's index and how many there are; none when done."""
    if pending is None or pending.done:
        return {"uri": uri, "next": 0, "total": 0, "steps": []}
    offset = leading_blank_lines(text) - leading_blank_lines(pending.expected_before)
    steps = [
        {
            "title": preview_title(step.placements),
            "placements": [
                {"line": p.line, "lines": list(p.lines)} for p in shifted(step.placements, offset)
            ],
        }
        for step in pending.remaining
    ]
    return {"uri": uri, "next": pending.index, "total": len(pending.steps), "steps": steps}


def leading_blank_lines(text: str) -> int:
    lines = text.split("\n")
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


def shifted(placements: Any, offset: int) -> list[Any]:
    """Placements moved down by ``offset`` lines (the buffer has more blank lines on top than expected)."""
    if offset == 0:
        return list(placements)
    return [SimpleNamespace(line=max(p.line + offset, 0), lines=p.lines) for p in placements]
