"""Resolving generated LintSeq text with misplaced edits put where they parse (opt-in, for evaluation).

Every state of a LintSeq sequence parses: the algorithm only keeps programs without lint errors. A small model
often writes the right lines under a wrong hunk header (a line count off by one or two, and later hunks trusting
it), so an edit lands inside another block and the program stops parsing. ``resolve_repairing`` applies each edit
as ``edits.resolve`` does; when that breaks a program that parsed, it moves the whole edit (every hunk by the same
number of lines) to the nearest position where the result parses, and keeps the stated position when none does.
It changes nothing for text whose states all parse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from model_runtime.edits import (
    Edit,
    EditApplyError,
    apply_edit_leniently,
    apply_edit_lines,
    normalise,
    parse_sequence,
)
from model_runtime.lint import parse


def resolve_repairing(text: str, *, eos: str | None = None, start: str = "") -> tuple[str, int]:
    """The program ``text`` writes, with misplaced edits moved (see the module docstring); also how many moved."""
    lines = normalise(start)
    moved = 0
    for edit in parse_sequence(text, strict=False, eos=eos).edits:
        applied = apply_edit_leniently(lines, edit)
        if not _parses(applied) and _parses(lines):
            repaired = _nearest_parsing(lines, edit)
            if repaired is not None:
                applied, moved = repaired, moved + 1
        lines = applied
    return "\n".join(lines), moved


def _nearest_parsing(lines: Sequence[str], edit: Edit) -> list[str] | None:
    """``lines`` with ``edit`` shifted by the smallest number of lines (earlier first on ties) that parses."""
    for delta in sorted(range(-len(lines), len(lines) + 1), key=lambda d: (abs(d), d)):
        if delta == 0 or any(h.new_start + delta < 1 for h in edit.hunks):
            continue
        shifted = Edit(tuple(dataclasses.replace(h, new_start=h.new_start + delta) for h in edit.hunks))
        try:
            candidate = apply_edit_lines(lines, shifted)
        except EditApplyError:
            continue
        if _parses(candidate):
            return candidate
    return None


def _parses(lines: Sequence[str]) -> bool:
    try:
        parse("\n".join(lines))
    except SyntaxError:
        return False
    return True
