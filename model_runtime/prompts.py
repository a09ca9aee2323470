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
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model_runtime import lint
from model_runtime.edits import (
    SEPARATOR,
    EditFormatError,
    edits_from_states,
    normalise,
    parse_hunk,
    split_hunks,
)

MODES = ("whole", "lintseq")
_ON_LINE = re.compile(r"on line (\d+)")


@dataclass(frozen=True)
class Prompt:
    """A prompt: ``head`` (instruction, ending in ``<|diff|>``) + the edits, each followed by the separator."""

    instruction: str
    head: str
    edits: tuple[str, ...]
    buffer: str  # the buffer as the edits write it (normalised)
    mode: str

    @property
    def text(self) -> str:
        return self.head + "".join(edit + SEPARATOR for edit in self.edits)


def plain_head(instruction: str) -> str:
    """The prompt head of the plain format: the instruction and the first separator."""
    return instruction + SEPARATOR


def build_prompt(
    buffer: str,
    *,
    instruction: str | None = None,
    line: int | None = None,
    history: Sequence[str] = (),
    mode: str = "whole",
    head: Callable[[str], str] = plain_head,
    decompose: Callable[[str], Sequence[str]] | None = None,
) -> Prompt:
    """The prompt asking for the next edit of ``buffer``.

    ``instruction`` None derives one from the buffer (``derive_instruction`` at 0-based ``line``). ``head`` turns
    the instruction into the prompt head (the chat format wraps it in the chat template). ``decompose`` maps a
    program to its states from empty to full for ``mode="lintseq"``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown prompt mode {mode!r}; choose one of {', '.join(MODES)}")
    if instruction is None:
        instruction = derive_instruction(buffer, line)
    current = "\n".join(normalise(buffer))
    start, recent = split_history(current, history)
    if mode == "whole":
        edits = edits_from_states(["", start])
    else:
        states = list(decompose(start) if decompose else lintseq_states(start))
        edits = edits_from_states(["", *states, start])
    return Prompt(instruction, head(instruction), (*edits, *recent), current, mode)


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


def derive_instruction(buffer: str, line: int | None = None) -> str:
    """An instruction from the buffer: the header and docstring of the function around 0-based ``line``, else the
    module docstring, else empty (also when the buffer does not parse).

    A function's instruction is its decorators, signature and docstring, dedented: the form training used.
    """
    try:
        tree = lint.parse(buffer)
    except SyntaxError:
        return ""
    lines = buffer.splitlines()
    if line is not None:
        for node in _enclosing_functions(tree, line + 1):
            doc = node.body[0] if node.body and _is_docstring(node.body[0]) else None
            if doc is not None:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return textwrap.dedent("\n".join(lines[first - 1 : doc.end_lineno])).strip("\n")
    return (ast.get_docstring(tree) or "").strip()


def _enclosing_functions(tree: ast.AST, lineno: int) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions whose span holds ``lineno``, innermost first."""
    found = [
        node
        for node in ast.walk(tree)
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


def lintseq_states(program: str) -> list[str]:
    """A deterministic LintSeq-style decomposition: program states from the first insertion to ``program``.

    Backwards from the full program: delete the last of the most indented lines with its block, then keep deleting
    lines that now carry errors the program did not have, until it is clean; each round is one step. Read forwards,
    every state adds no error to the original's. Deepest lines go first, so forwards the skeleton comes first.
    """
    lines = normalise(program)
    original = "\n".join(lines)
    states = [original]
    while lines:
        lines = _delete_block(lines, _pick(lines))
        for _ in range(len(lines)):
            fresh = lint.new_errors(original, "\n".join(lines))
            if not fresh or not lines:
                break
            lines = _delete_block(lines, min(_blamed_line(fresh[0]) - 1, len(lines) - 1))
        states.append("\n".join(lines))
    states.reverse()
    return [s for s in states if s]


def _blamed_line(error: lint.LintError) -> int:
    """The 1-based line an error is about: Python reports a block left empty on the line after its header."""
    match = _ON_LINE.search(error.message)
    return max(int(match.group(1)) if match and error.kind == lint.SYNTAX_ERROR else error.line, 1)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _pick(lines: list[str]) -> int:
    code = [i for i, text in enumerate(lines) if text.strip() and not text.lstrip().startswith("#")] or [0]
    deepest = max(_indent(lines[i]) for i in code)
    return max(i for i in code if _indent(lines[i]) == deepest)


def _delete_block(lines: list[str], index: int) -> list[str]:
    """``lines`` without line ``index`` and the lines indented under it."""
    end = index + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > _indent(lines[index])):
        end += 1
    return lines[:index] + lines[end:]
