"""Prompts: an instruction, then the buffer (and the user's recent edits) expressed as LintSeq edit history.

The model continues a prompt with the next edit. How the buffer is expressed is one option, ``mode``:

- ``whole``: the buffer as one insertion of all its lines;
- ``lintseq``: the buffer re-expressed as a sequence of lint-clean insertions, like the training data. The default
  decomposition is deterministic (``lintseq_states``); a caller with a sampler (the evaluation harness has
  ``training.lintseq``) passes ``decompose`` instead.

Recent edits (Diff History) are diffs between consecutive buffer states ending at the current buffer; when given,
the state before them is expressed by ``mode`` and the edits follow as they were made.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model_runtime.edits import (
    SEPARATOR,
    EditFormatError,
    edits_from_states,
    normalise,
    parse_hunk,
    split_hunks,
)
from model_runtime.incremental_lint import first_line
from model_runtime.insertion_steps import lintseq_states
from model_runtime.outline import Outline, outline_of
from model_runtime.windows import window_span, window_states

MODES = ("whole", "lintseq")


@dataclass(frozen=True)
class Prompt:
    """A prompt: ``head`` (instruction, ending in ``<|diff|>``) + the edits, each followed by the separator."""

    instruction: str
    head: str
    edits: tuple[str, ...]
    buffer: str  # the buffer as the edits write it (normalised)
    mode: str
    # 0-based lines of the caller's buffer left out of the prompt: the docstring that became the instruction, and
    # the lines outside the window of a long buffer. The model's edits count lines without them
    # (``suggestions.validate`` maps them back).
    hidden: tuple[int, ...] = ()
    # Where an edit appending to the shown lines goes in the caller's buffer: None, its end; else the 0-based line
    # after the window (a window that ends before the buffer does).
    append_at: int | None = None

    @property
    def text(self) -> str:
        return self.head + "".join(edit + SEPARATOR for edit in self.edits)


def plain_head(instruction: str) -> str:
    """The prompt head of the plain format: the instruction and the first separator."""
    return instruction + SEPARATOR


# "Parse the buffer here": the default of every ``tree`` parameter. A caller that has the buffer's syntax passes it:
# an ``outline.Outline`` (the language server keeps one per document), an ``ast.Module``, or None (it does not
# parse). A fresh parse of a 5,000-line buffer takes 30-60 ms, all of it holding the GIL.
UNPARSED: object = object()


def _outline(buffer: str, tree: object) -> Outline | None:
    if tree is UNPARSED:
        return outline_of(buffer)
    return Outline.of_tree(tree) if isinstance(tree, ast.Module) else tree  # type: ignore[return-value]


def build_prompt(
    buffer: str,
    *,
    instruction: str | None = None,
    line: int | None = None,
    history: Sequence[str] = (),
    mode: str = "whole",
    head: Callable[[str], str] = plain_head,
    decompose: Callable[[str], Sequence[str]] | None = None,
    hide_docstring: bool = True,
    window: int = 0,
    tree: object = UNPARSED,
) -> Prompt:
    """The prompt asking for the next edit of ``buffer``.

    ``instruction`` None derives one from the buffer (``derive_instruction`` at 0-based ``line``). ``head`` turns
    the instruction into the prompt head (the chat format wraps it in the chat template). ``decompose`` maps a
    program to its states from empty to full for ``mode="lintseq"``.

    When the instruction is the one derived from a function's docstring, that docstring is left out of the buffer
    the prompt shows, and out of the states of the recent edits (``hide_docstring``; ``Prompt.hidden`` says which
    lines): training data holds the docstring in the instruction and the function's code without it, and a model
    shown the docstring twice writes worse edits (measured on ``examples/running_mean.py``, int8, k=4, seeds 0-4:
    16 of 20 sampled edits valid without it, 5 of 20 with it).

    ``window`` > 0: a buffer of more lines shows only ``windows.window_span`` around ``line``; the other lines are
    hidden too, and the recent edits are kept when they all lie inside the window (else they are left out).
    """
    if mode not in MODES:
        raise ValueError(f"unknown prompt mode {mode!r}; choose one of {', '.join(MODES)}")
    span = None
    tree = _outline(buffer, tree)
    if instruction is None or (hide_docstring and line is not None):
        derived = derive_instruction(buffer, line, tree)
        instruction = derived if instruction is None else instruction
        # Also when the caller passes the derived instruction itself (the language server does, to key its cache).
        span = docstring_lines(buffer, line, tree) if hide_docstring and instruction == derived else None
    normalised = normalise(buffer)
    current = "\n".join(normalised)
    start, recent = split_history(current, history)
    hidden: set[int] = set(span or ())
    states = None  # the states the prompt shows, when they are not simply start + recent
    lines = buffer.split("\n")
    lead = next((i for i, text in enumerate(lines) if text.strip()), 0)  # blank lines normalise drops
    count = len(normalised)
    in_buffer = window_span(buffer, line, window, tree.spans() if tree is not None else [])
    shown = range(max(in_buffer.start - lead, 0), max(min(in_buffer.stop - lead, count), 0))  # of ``current``
    append_at = None
    if len(shown) < count:
        hidden.update(i for i in range(len(lines)) if i - lead not in shown)
        append_at = lead + shown.stop if shown.stop < count else None
        states = window_states([start, *program_states_of(start, recent)], shown.start, count - shown.stop)
        states = states or [without_lines(buffer, sorted(hidden))]
    if span:
        # The current state loses exactly the hidden lines; earlier states (recent edits) lose the same block.
        block = lines[span.start : span.stop]
        states = states or [start, *program_states_of(start, recent)]
        states = [*(_drop_block(s, block) for s in states[:-1]), without_lines(buffer, sorted(hidden))]
    if states is not None:
        start, recent = "\n".join(normalise(states[0])), edits_from_states(states)
        current = "\n".join(normalise(states[-1]))
    if mode == "whole":
        edits = edits_from_states(["", start])
    else:
        states = list(decompose(start) if decompose else lintseq_states(start))
        edits = edits_from_states(["", *states, start])
    return Prompt(
        instruction, head(instruction), (*edits, *recent), current, mode, tuple(sorted(hidden)), append_at
    )


def without_lines(text: str, hidden: Sequence[int]) -> str:
    """``text`` without its 0-based lines ``hidden``."""
    drop = set(hidden)
    return "\n".join(row for i, row in enumerate(text.split("\n")) if i not in drop)


def split_history(current: str, history: Sequence[str]) -> tuple[str, list[str]]:
    """The buffer before the recent edits, and those edits; ([current], []) when they do not lead to ``current``.

    History diffs may delete as well as insert; they are undone from the current buffer backwards.
    """
    lines = normalise(current)
    for diff in reversed(history):
        undone = _undo(lines, diff)
        if undone is None:
            return current, []
        lines = undone
    return "\n".join(lines), [d for d in history if d.strip()]


def program_states_of(start: str, diffs: Sequence[str]) -> list[str]:
    """The states after each of ``diffs`` (which may delete as well as insert), applied from ``start``."""
    lines = normalise(start)
    states = []
    for diff in diffs:
        result = list(lines)
        for hunk in reversed([parse_hunk(chunk) for chunk in split_hunks(diff)]):
            at = hunk.old_start - 1 if hunk.removed else hunk.old_start
            result[at : at + len(hunk.removed)] = hunk.added
        lines = result
        states.append("\n".join(lines))
    return states


def _drop_block(text: str, block: Sequence[str]) -> str:
    """``text`` without the first run of lines equal to ``block`` (unchanged when it has none)."""
    lines = text.split("\n")
    for i in range(len(lines) - len(block) + 1):
        if lines[i : i + len(block)] == list(block):
            return "\n".join(lines[:i] + lines[i + len(block) :])
    return text


def _undo(lines: list[str], diff: str) -> list[str] | None:
    """``lines`` before ``diff`` was applied, or None if the diff does not match them."""
    try:
        hunks = [parse_hunk(chunk) for chunk in split_hunks(diff)]
    except EditFormatError:
        return None
    result = list(lines)
    for hunk in reversed(hunks):
        at = hunk.new_start - 1 if hunk.added else hunk.new_start
        if result[at : at + len(hunk.added)] != list(hunk.added):
            return None
        result[at : at + len(hunk.added)] = hunk.removed
    return result


def prompt_focus(buffer: str, line: int | None, window: int, tree: object = UNPARSED) -> tuple[str, range]:
    """What a prompt for 0-based ``line`` depends on besides the buffer and its history: the derived instruction
    and the window (``windows.window_span``). The buffer is parsed once, or not at all when the caller passes its
    ``tree`` (see ``UNPARSED``). The language server keys its suggestion cache by the focus, so that a suggestion
    computed for one line answers a request on any line with the same focus."""
    outline = _outline(buffer, tree)
    spans = outline.spans() if outline is not None else []
    return derive_instruction(buffer, line, outline), window_span(buffer, line, window, spans)


def derive_instruction(buffer: str, line: int | None = None, tree: object = UNPARSED) -> str:
    """An instruction from the buffer: the header and docstring of the function around 0-based ``line``, else the
    module docstring, else empty (also when the buffer does not parse).

    A function's instruction is its decorators, signature and docstring, dedented: the form training used.
    """
    outline = _outline(buffer, tree)
    if outline is None:
        return ""
    found = _documented_function(outline, line)
    if found is not None:
        node, doc, offset = found
        header = buffer.splitlines()[first_line(node) + offset - 1 : doc.end_lineno + offset]
        return textwrap.dedent("\n".join(header)).strip("\n")
    return (outline.docstring() or "").strip()


def docstring_lines(buffer: str, line: int | None, tree: object = UNPARSED) -> range | None:
    """0-based lines of the docstring ``derive_instruction`` takes at ``line``, when it stands on lines of its own
    (not on the ``def`` line); else None."""
    outline = _outline(buffer, tree)
    found = _documented_function(outline, line) if outline is not None else None
    if found is None:
        return None
    node, doc, offset = found
    lines = buffer.split("\n")
    start, end = doc.lineno + offset, doc.end_lineno + offset
    alone = (
        doc.lineno > node.lineno
        and not lines[start - 1][: doc.col_offset].strip()
        and not lines[end - 1][doc.end_col_offset :].strip()
    )
    return range(start - 1, end) if alone else None


def _documented_function(outline: Outline, line: int | None) -> tuple[ast.AST, ast.Expr, int] | None:
    """The innermost function around 0-based ``line`` that has a docstring, with that docstring and the offset of
    their line numbers (``Outline``)."""
    if line is None or (around := outline.around(line + 1)) is None:
        return None
    statement, offset = around
    for node in _enclosing_functions(statement, line + 1 - offset):
        if node.body and _is_docstring(node.body[0]):
            return node, node.body[0], offset
    return None


def _enclosing_functions(root: ast.AST, lineno: int) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions under ``root`` whose span holds ``lineno``, innermost first. The caller passes the top-level
    statement around the line (``Outline.around``): walking a 5,000-line module took longer than parsing it."""
    found = [
        node
        for node in ast.walk(root)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.lineno <= lineno <= node.end_lineno
    ]
    return sorted(found, key=lambda node: node.lineno, reverse=True)


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
