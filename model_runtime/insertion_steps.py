"""Inference-time LintSeq: split an insertion into a sequence of lint-clean insertion steps.

A strong instruct model writes a whole completed function, not LintSeq diffs. When its answer keeps every line of
the buffer in order (``align``: a pure insertion), the lines it adds are decomposed here by LintSeq's backward
sampling restricted to the added lines (``insertion_states``): from the completed program, repeatedly delete the
last of the most indented added lines with the added lines under it (and the comments just above it), then keep
deleting the added lines that now carry errors the buffer did not have, until the program is clean again; each
round is one step. Read forwards, the steps write the skeleton first, then fill it in, and every intermediate
program adds no pyflakes error to the buffer. Deterministic, so that re-planning after an accepted step repeats
the same remaining steps.

``lintseq_states`` is the same walk with no fixed lines: a whole program from nothing (the prompt's ``lintseq``
mode writes the buffer this way).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from model_runtime import lint
from model_runtime.edits import normalise

_ON_LINE = re.compile(r"on line (\d+)")


def align(region: Sequence[str], answer: Sequence[str]) -> list[tuple[int, tuple[str, ...]]] | None:
    """Where ``answer`` inserts lines into ``region``: ``[(before region line i, lines)]``, or None when the answer
    deletes or changes a region line (not a pure insertion).

    Lines are compared without trailing whitespace. A blank region line the answer leaves out or replaces is kept
    (the answer's lines go in around it): only code lines must survive in order.
    """
    old = [line.rstrip() for line in region]
    new = [line.rstrip() for line in answer]
    inserts: list[tuple[int, tuple[str, ...]]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if any(old[i].strip() for i in range(i1, i2)):
            return None  # a code line of the region was deleted or changed
        if j2 > j1:
            inserts.append((i2 if tag == "replace" else i1, tuple(answer[j1:j2])))
    return inserts


def insertion_states(
    buffer: str, final: str, added: Sequence[bool], reference: str | None = None
) -> list[str]:
    """Program states from ``buffer`` (excluded) to ``final`` (included), each an insertion into the one before.

    ``added[i]`` says that line i of ``final.split("\\n")`` is new; the others are ``buffer``'s lines, in order.
    Every state adds no pyflakes error to ``reference`` (default: ``buffer``) when ``final`` adds none; when no
    finer split keeps that promise, the remaining lines form one step.
    """
    reference = buffer if reference is None else reference
    lines = final.split("\n")
    present = list(range(len(lines)))
    removable = {i for i, new in enumerate(added) if new}
    states = [final]
    while removable & set(present):
        gone = _block(lines, present, _pick(lines, present, removable), removable)
        present = [i for i in present if i not in gone]
        for _ in range(len(present)):
            fresh = lint.new_errors(reference, _text(lines, present))
            if not fresh:
                break
            blamed = _blamed(fresh[0], present)
            if blamed is None or blamed not in removable:
                present = [i for i in present if i not in removable]  # no finer split: one step for the rest
                break
            gone = _block(lines, present, blamed, removable)
            present = [i for i in present if i not in gone]
        states.append(_text(lines, present))
    states.reverse()
    return states[1:]


def lintseq_states(program: str) -> list[str]:
    """A deterministic LintSeq decomposition of a whole program: its states from the first insertion to itself."""
    lines = normalise(program)
    text = "\n".join(lines)
    return [s for s in insertion_states("", text, [True] * len(lines), reference=text) if s.strip()]


def _text(lines: Sequence[str], present: Sequence[int]) -> str:
    return "\n".join(lines[i] for i in present)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_code(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _pick(lines: Sequence[str], present: Sequence[int], removable: set[int]) -> int:
    """The last of the most indented removable code lines (any removable line when none is code)."""
    candidates = [i for i in present if i in removable and _is_code(lines[i])]
    if not candidates:
        return next(i for i in present if i in removable)
    deepest = max(_indent(lines[i]) for i in candidates)
    return max(i for i in candidates if _indent(lines[i]) == deepest)


def _block(lines: Sequence[str], present: Sequence[int], index: int, removable: set[int]) -> set[int]:
    """Line ``index``, the removable lines indented under it, and the removable comments right above it."""
    at = present.index(index)
    gone = {index}
    for i in present[at + 1 :]:
        if lines[i].strip() and _indent(lines[i]) <= _indent(lines[index]):
            break
        if i in removable:
            gone.add(i)
    for i in reversed(present[:at]):
        if i not in removable or _is_code(lines[i]) or not lines[i].strip():
            break
        gone.add(i)
    return gone


def _blamed(error: lint.LintError, present: Sequence[int]) -> int | None:
    """The line (of ``final``) an error is about; Python reports a block left empty on the line after its header."""
    match = _ON_LINE.search(error.message)
    line = int(match.group(1)) if match and error.kind == lint.SYNTAX_ERROR else error.line
    position = min(max(line, 1), len(present)) - 1
    return present[position] if present else None
