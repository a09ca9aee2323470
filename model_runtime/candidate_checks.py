"""The checks a candidate edit must pass before it is shown: it adds no pyflakes error to the buffer, and none of
its lines is code that can never run. Both are made cheap for long buffers: the buffer is linted once (incrementally
against the document's previous version when the caller keeps a linter), each candidate only where it changed.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from model_runtime import lint
from model_runtime.incremental_lint import IncrementalLint, Unit

# A placement is ``suggestions.Placement``: insert ``.lines`` before 0-based line ``.line`` of the buffer.
Placement = Any


class BufferLint:
    """A buffer's pyflakes findings, and the errors of programs made from it by inserting a few lines.

    The buffer is checked in full once; each candidate program is then checked incrementally against the buffer
    (``IncrementalLint``, forked at the buffer's check: only the top-level statements an insertion touches are
    checked again, with the same findings as a full check), so validating k candidates in a 5,000-line file costs
    one full check, not k+1.
    ``linter``: an ``IncrementalLint`` kept by the caller for this document (the language server keeps one per
    open document), so that the buffer itself is checked incrementally against the document's previous version
    (the linter is left at this buffer's check); it must not be used by two threads at once.
    ``incremental=False`` checks every program in full (the baseline of ``benchmarks/validation_latency.py``).
    """

    def __init__(
        self, buffer: str, *, incremental: bool = True, linter: IncrementalLint | None = None
    ) -> None:
        self.buffer = buffer
        self._lint = (linter or IncrementalLint()) if incremental else None
        findings = self._check(buffer)
        self.errors = [f for f in findings if f.is_error]
        syntax = next((f for f in findings if f.kind == lint.SYNTAX_ERROR), None)
        self.error = f"buffer does not parse: line {syntax.line}: {syntax.message}" if syntax else None
        self._last: tuple[str, IncrementalLint] | None = None  # the last candidate checked, and its linter

    def _check(self, text: str) -> list[lint.LintError]:
        return self._lint.check(text) if self._lint else lint.check(text)

    def adds_errors(self, program: str) -> bool:
        """Whether ``program`` (the buffer with lines inserted) has a pyflakes error the buffer did not have."""
        if self._lint:
            fork = self._lint.fork()
            found, self._last = fork.check(program), (program, fork)
        else:
            found = lint.check(program)
        after = [f for f in found if f.is_error]
        return bool(lint.new_errors(self.errors, after, before_text=self.buffer, after_text=program))

    def adds_unreachable_code(self, program: str, placements: Sequence[Placement]) -> bool:
        """``adds_unreachable_code``, reading the statements around the insertion from the check of ``program``
        that ``adds_errors`` just made, instead of parsing the whole program again."""
        last = self._last
        units = last[1].units if last is not None and last[0] == program else None
        return adds_unreachable_code(program, placements, units)


_TERMINAL = (ast.Return, ast.Raise, ast.Break, ast.Continue)


def adds_unreachable_code(
    program: str, placements: Sequence[Placement], units: Sequence[Unit] | None = None
) -> bool:
    """Whether any line the placements inserted into ``program`` lies in a statement that follows a return, raise,
    break or continue of its own block: code that can never run is no useful next edit, though pyflakes allows it
    (the early default model often appends a loop after the function's ``return``).

    Only the nodes whose lines reach the inserted span are visited (a dead statement holding an inserted line lies
    inside them). ``units``: the program's top-level units from an ``IncrementalLint`` check of it; the ones around
    the insertion were parsed by that check, so their trees stand in for the program's and nothing is parsed again
    (unless a module-level ``raise`` above them makes the rest of the module dead: then the program is parsed).
    """
    inserted: set[int] = set()  # 0-based lines of ``program``
    shift = 0
    for placement in sorted(placements, key=lambda p: p.line):
        inserted.update(range(placement.line + shift, placement.line + shift + len(placement.lines)))
        shift += len(placement.lines)
    if not inserted:
        return False
    first, last = min(inserted) + 1, max(inserted) + 1  # 1-based, as ast counts
    tree = _around(units, first, last) if units is not None else None
    if tree is None:
        tree = lint.parse_or_none(program)
        if tree is None:
            return False

    def reaches_span(node: ast.AST) -> bool:
        start = getattr(node, "lineno", None)  # (match cases carry no position: always visited)
        return start is None or (start <= last and (node.end_lineno or start) >= first)

    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if not isinstance(block, list):
                continue
            cut = next((i for i, statement in enumerate(block) if isinstance(statement, _TERMINAL)), None)
            for statement in block[cut + 1 :] if cut is not None else ():
                if inserted.intersection(range(statement.lineno - 1, statement.end_lineno)):
                    return True
        stack.extend(child for child in ast.iter_child_nodes(node) if reaches_span(child))
    return False


def _around(units: Sequence[Unit], first: int, last: int) -> ast.Module | None:
    """A module of the units that reach 1-based lines ``first``..``last``, when their trees carry current line
    numbers (parsed where they stand: ``base == start``) and no unit above ends the module early; else None."""
    near = [unit for unit in units if unit.start <= last and unit.end >= first]
    above = [unit for unit in units if unit.end < first]
    if any(unit.base != unit.start for unit in near) or any(
        isinstance(statement, _TERMINAL) for unit in above for statement in unit.stmts
    ):
        return None
    return ast.Module(body=[statement for unit in near for statement in unit.stmts], type_ignores=[])
