"""The LintSeq edit-sequence text format: hunks, edits and sequences; render, parse, apply and resolve.

An *edit* is a unified diff with zero context lines between two program states, without the ``---``/``+++``
header: one or more hunks such as ``@@ -4,0 +5,2 @@`` followed by ``+line`` rows. States are compared as
``text.strip().splitlines()``. An *edit sequence* is serialised as::

    instruction + "\\n<|diff|>".join([""] + edits + ["", ""])      (+ eos for training)

This is byte-for-byte the format of the reference implementation, so models finetuned there work here unchanged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DIFF_TOKEN = "<|diff|>"
SEPARATOR = "\n" + DIFF_TOKEN

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@[^\n]*$")


class EditFormatError(ValueError):
    """A piece of LintSeq text that is not a well-formed insertion edit; says where and why."""

    def __init__(self, reason: str, *, edit_index: int | None = None, hunk_index: int | None = None):
        where = []
        if edit_index is not None:
            where.append(f"edit {edit_index + 1}")
        if hunk_index is not None:
            where.append(f"hunk {hunk_index + 1}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)
        self.reason = reason
        self.edit_index = edit_index
        self.hunk_index = hunk_index


class EditApplyError(ValueError):
    """An edit that cannot be applied to a program as an insertion (it deletes, or points outside the program)."""


@dataclass(frozen=True)
class Hunk:
    """One hunk: ``old_count`` lines from ``old_start`` replaced by ``added`` lines starting at ``new_start``.

    Line numbers are 1-based as in the diff header; an insertion hunk has ``removed == ()``.
    """

    old_start: int
    old_count: int
    new_start: int
    added: tuple[str, ...]
    removed: tuple[str, ...] = ()

    @property
    def is_insertion(self) -> bool:
        return not self.removed and self.old_count == 0

    @property
    def insert_at(self) -> int:
        """0-based index in the program (before this hunk) where the added lines go."""
        return max(self.new_start - 1, 0)

    def render(self) -> str:
        """The hunk as diff text, with a header exactly like difflib's (a count of 1 is omitted)."""
        header = f"@@ -{_range(self.old_start, self.old_count)} +{_range(self.new_start, len(self.added))} @@"
        rows = [f"-{line}" for line in self.removed] + [f"+{line}" for line in self.added]
        return "\n".join([header, *rows])


@dataclass(frozen=True)
class Edit:
    """One edit: the hunks of one diff between consecutive program states, in order."""

    hunks: tuple[Hunk, ...]

    @property
    def is_insertion(self) -> bool:
        return all(h.is_insertion for h in self.hunks)

    @property
    def added_lines(self) -> int:
        return sum(len(h.added) for h in self.hunks)

    def render(self) -> str:
        return "\n".join(h.render() for h in self.hunks)


@dataclass(frozen=True)
class EditSequence:
    """An instruction and the edits that write its program, starting from the empty program."""

    instruction: str
    edits: tuple[Edit, ...]

    def render(self) -> str:
        """The LintSeq text, without eos."""
        return render_sequence(self.instruction, [e.render() for e in self.edits])

    def states(self) -> list[str]:
        """Every program state, from the empty program to the final one."""
        return program_states(self.edits)

    def program(self) -> str:
        return self.states()[-1]


def _range(start: int, count: int) -> str:
    return str(start) if count == 1 else f"{start},{count}"


def normalise(text: str) -> list[str]:
    """The lines a program state is compared by: ``text.strip().splitlines()``."""
    return text.strip().splitlines()


def diff_states(before: str, after: str, *, trim: bool = False) -> str:
    """The edit text between two program states (zero context, no file header); empty if they are equal.

    This is difflib's diff, as in the reference. Where ``before`` is a subsequence of ``after`` but difflib aligns
    repeated lines into a replacement, the pure insertion is returned instead, so a growing state always yields an
    insertion edit. ``trim``: the lines both states share at their start and end are matched directly and difflib
    compares only what lies between (a small edit of a 5,000-line file then costs microseconds, not tens of
    milliseconds); where repeated lines make several alignments equally short, the one chosen may differ from
    difflib's, so the training data never uses it.
    """
    a, b = normalise(before), normalise(after)
    head, tail = common_ends(a, b) if trim else (0, 0)
    rows = list(difflib.unified_diff(a[head : len(a) - tail], b[head : len(b) - tail], n=0, lineterm=""))[2:]
    if head:
        rows = [_shift_header(row, head) if row.startswith("@@") else row for row in rows]
    if any(row.startswith("-") for row in rows):
        added = _subsequence_gaps(a, b)
        if added is not None:
            return insertion(b, added).render()
    return "\n".join(rows)


def common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """How many lines ``a`` and ``b`` share at their start, and then at their end (the two never overlap)."""
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


_HEADER_STARTS = re.compile(r"^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@")


def _shift_header(row: str, by: int) -> str:
    """A unified-diff hunk header with both start lines moved down by ``by`` lines."""
    match = _HEADER_STARTS.match(row)
    old, old_count, new, new_count = match.groups()
    return f"@@ -{int(old) + by}{old_count} +{int(new) + by}{new_count} @@{row[match.end() :]}"


def _subsequence_gaps(before: Sequence[str], after: Sequence[str]) -> list[bool] | None:
    """Which lines of ``after`` are new if ``before`` is embedded leftmost-first; None if it is not a subsequence."""
    added = [True] * len(after)
    i = 0
    for j, line in enumerate(after):
        if i < len(before) and line == before[i]:
            added[j] = False
            i += 1
    return added if i == len(before) else None


def insertion(after: Sequence[str], added: Sequence[bool]) -> Edit:
    """The insertion edit that adds the lines of ``after`` flagged in ``added`` to the state made of the others.

    Hunk headers are difflib's (``@@ -a,0 +c,d @@``): ``a`` counts the old lines before the run, ``c`` is the run's
    first line in the new state.
    """
    hunks: list[Hunk] = []
    old_before = 0
    start = None
    for j, is_new in enumerate([*added, False]):
        if is_new and start is None:
            start, start_old = j, old_before
        elif not is_new and start is not None:
            hunks.append(Hunk(start_old, 0, start + 1, tuple(after[start:j])))
            start = None
        if not is_new:
            old_before += 1
    return Edit(tuple(hunks))


def edits_from_states(states: Iterable[str]) -> list[str]:
    """The edit texts between consecutive states, leaving out steps that change nothing."""
    states = list(states)
    diffs = (diff_states(a, b) for a, b in zip(states, states[1:], strict=False))
    return [d for d in diffs if d]


def render_sequence(instruction: str, edits: Sequence[str]) -> str:
    """LintSeq text for an instruction and its edits: ends with the two closing separators, no eos."""
    return instruction + SEPARATOR.join(["", *edits, "", ""])


def training_text(instruction: str, edits: Sequence[str], eos: str = "") -> str:
    """The LintSeq training text: the rendered sequence followed by eos."""
    return render_sequence(instruction, edits) + eos


def baseline_text(instruction: str, program: str, eos: str = "") -> str:
    """The baseline ("instruction") training text: instruction, newline, program, eos."""
    return f"{instruction}\n{program}{eos}"


def prompt(instruction: str) -> str:
    """The inference prompt for a whole sequence: the instruction followed by the first separator."""
    return instruction + SEPARATOR


def parse_hunk(
    text: str,
    *,
    strict: bool = True,
    counts: bool = True,
    edit_index: int | None = None,
    hunk_index: int | None = None,
) -> Hunk:
    """Read one hunk (header and rows). Strict mode checks counts and row prefixes; lenient keeps the ``+`` rows.

    ``counts=False`` makes strict mode trust the rows over the header's line counts (every row must still be a
    ``+`` or ``-`` row): the reference resolver reads only a header's start line, never its counts.
    Raises EditFormatError when the header is unreadable (in both modes) or, in strict mode, when the body does not
    match the header.
    """
    lines = text.split("\n")
    match = _HEADER.match(lines[0])
    if not match:
        raise EditFormatError(
            f"bad hunk header {lines[0][:60]!r}", edit_index=edit_index, hunk_index=hunk_index
        )
    old_start, old_count, new_start, new_count = (int(g) if g is not None else 1 for g in match.groups())
    added: list[str] = []
    removed: list[str] = []
    for row in lines[1:]:
        if row.startswith("+"):
            added.append(row[1:])
        elif row.startswith("-"):
            removed.append(row[1:])
        elif strict:
            raise EditFormatError(
                f"row {row[:60]!r} is neither an added nor a removed line",
                edit_index=edit_index,
                hunk_index=hunk_index,
            )
    if strict and counts and (len(added) != new_count or len(removed) != old_count):
        raise EditFormatError(
            f"header promises -{old_count} +{new_count} lines, body has -{len(removed)} +{len(added)}",
            edit_index=edit_index,
            hunk_index=hunk_index,
        )
    if not strict and not removed:
        old_count = 0  # lenient, like the reference: only the +c start and the + rows matter
    return Hunk(old_start, old_count, new_start, tuple(added), tuple(removed))


def split_hunks(edit_text: str) -> list[str]:
    """Split an edit's text into hunk texts at each ``\\n@@`` (text before the first header is kept as a chunk)."""
    text = edit_text.strip("\n")
    if not text:
        return []
    return [chunk if i == 0 else "@@" + chunk for i, chunk in enumerate(text.split("\n@@"))]


def parse_edit(
    edit_text: str, *, strict: bool = True, counts: bool = True, edit_index: int | None = None
) -> Edit:
    """Read one edit. Strict mode raises EditFormatError on any malformed hunk; lenient mode drops such hunks.

    ``counts=False``: strict about rows, but a header's line counts need not match them (see ``parse_hunk``).
    """
    hunks = []
    for i, chunk in enumerate(split_hunks(edit_text)):
        try:
            hunks.append(parse_hunk(chunk, strict=strict, counts=counts, edit_index=edit_index, hunk_index=i))
        except EditFormatError:
            if strict:
                raise
    if strict and not hunks:
        raise EditFormatError("edit has no hunks", edit_index=edit_index)
    return Edit(tuple(hunks))


def split_sequence(text: str, eos: str | None = None) -> tuple[str, list[str]]:
    """Split LintSeq text into its instruction and the raw edit texts (empty chunks and anything after eos dropped)."""
    if eos and eos in text:
        text = text[: text.index(eos)]
    instruction, *chunks = text.split(SEPARATOR)
    return instruction, [c for c in chunks if c.strip()]


def parse_sequence(text: str, *, strict: bool = True, eos: str | None = None) -> EditSequence:
    """Read LintSeq text into an EditSequence. Lenient mode drops malformed hunks and edits left without hunks."""
    instruction, chunks = split_sequence(text, eos)
    edits = []
    for i, chunk in enumerate(chunks):
        edit = parse_edit(chunk, strict=strict, edit_index=i)
        if edit.hunks:
            edits.append(edit)
    return EditSequence(instruction, tuple(edits))


def apply_edit_lines(lines: Sequence[str], edit: Edit) -> list[str]:
    """Apply an insertion edit to a list of lines: each hunk's lines go in at index ``new_start - 1``, in order.

    Raises EditApplyError for a hunk that removes lines or whose position lies outside the program.
    """
    result = list(lines)
    for i, hunk in enumerate(edit.hunks):
        if not hunk.is_insertion:
            raise EditApplyError(
                f"hunk {i + 1} ({hunk.render().splitlines()[0]}) deletes lines; only insertions apply"
            )
        at = hunk.insert_at
        if at > len(result):
            raise EditApplyError(
                f"hunk {i + 1} inserts at line {hunk.new_start} but the program has only {len(result)} lines"
            )
        result[at:at] = hunk.added
    return result


def apply_edit(program: str, edit: Edit | str) -> str:
    """Apply an insertion edit (an Edit or its text, read strictly) to a program; returns the new program text."""
    if isinstance(edit, str):
        edit = parse_edit(edit)
    return "\n".join(apply_edit_lines(normalise(program), edit))


def program_states(edits: Iterable[Edit], start: str = "") -> list[str]:
    """The program after each edit, starting from ``start`` (included); raises EditApplyError on a bad edit."""
    lines = normalise(start)
    states = ["\n".join(lines)]
    for edit in edits:
        lines = apply_edit_lines(lines, edit)
        states.append("\n".join(lines))
    return states


def resolve(text: str, *, strict: bool = False, eos: str | None = None, start: str = "") -> str:
    """Turn generated LintSeq text into the program it writes.

    Lenient (the default, as the reference evaluation does): malformed hunks are skipped, and so is any hunk that
    deletes or points past the end of the program. Strict: the first problem raises EditFormatError or
    EditApplyError.
    """
    sequence = parse_sequence(text, strict=strict, eos=eos)
    lines = normalise(start)
    for edit in sequence.edits:
        lines = apply_edit_lines(lines, edit) if strict else apply_edit_leniently(lines, edit)
    return "\n".join(lines)


def apply_edit_leniently(lines: Sequence[str], edit: Edit) -> list[str]:
    """``apply_edit_lines``, skipping each hunk that deletes or points past the end instead of raising."""
    result = list(lines)
    for hunk in edit.hunks:
        try:
            result = apply_edit_lines(result, Edit((hunk,)))
        except EditApplyError:
            continue
    return result
