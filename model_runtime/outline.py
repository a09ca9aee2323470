"""What a prompt reads of a buffer's syntax: its top-level statements and their lines (``Outline``), from a fresh
parse or kept up to date from version to version of a document (``OutlineTracker``).

A fresh parse of a 5,000-line buffer takes 30-60 ms, all of it holding the GIL; in the language server that stalls
the event loop (and the diagnostics it publishes) while a suggestion is prepared. The tracker parses only the lines
around an edit again, as ``IncrementalLint`` does for pyflakes, and reuses the trees of the statements an edit moved.
Their line numbers then count from where they were parsed, so each statement carries an offset.
"""

from __future__ import annotations

import ast
import bisect
import functools
import threading
from dataclasses import dataclass

from model_runtime import lint
from model_runtime.incremental_lint import Unit, first_line, splice_units, units_of


@dataclass(frozen=True)
class Outline:
    """A parsed buffer's top-level statements, each with the number to add to its tree's line numbers (0 after a
    fresh parse)."""

    statements: tuple[tuple[ast.stmt, int], ...]

    @classmethod
    def of_tree(cls, tree: ast.Module) -> Outline:
        return cls(tuple((statement, 0) for statement in tree.body))

    @classmethod
    def of_units(cls, units: list[Unit]) -> Outline:
        return cls(tuple((statement, unit.start - unit.base) for unit in units for statement in unit.stmts))

    def spans(self) -> list[range]:
        """0-based line ranges of the top-level statements, decorators included (``windows.window_span`` takes
        them)."""
        return [
            range(first_line(statement) - 1 + offset, (statement.end_lineno or statement.lineno) + offset)
            for statement, offset in self.statements
        ]

    def head(self, span: range) -> range:
        """0-based lines of the head of the top-level statement spanning ``span`` (one of ``spans()``): a function's
        decorators, signature and docstring (its signature alone without one), a class's decorators and signature
        (a class docstring can be long and says little about a method being written); empty for other statements.
        What typing in a body leaves as it is (``strategies.continuation`` shows it), read from the kept trees."""
        found = self.around(span.stop) if span else None
        if found is None or not isinstance(found[0], ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return range(span.start, span.start)
        statement, offset = found
        first = statement.body[0]
        documented = (
            not isinstance(statement, ast.ClassDef)
            and isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
        )
        stop = (first.end_lineno or first.lineno) if documented else first.lineno - 1
        return range(first_line(statement) - 1 + offset, max(stop, statement.lineno) + offset)

    def docstring(self) -> str | None:
        """The module docstring, if the buffer has one."""
        if not self.statements:
            return None
        return ast.get_docstring(ast.Module(body=[self.statements[0][0]], type_ignores=[]))

    def around(self, lineno: int) -> tuple[ast.stmt, int] | None:
        """The top-level statement that is the only one that can hold 1-based ``lineno`` (the last one starting at
        or before it, decorators not counted, as ``ast`` counts lines), with its offset; None before the first."""
        at = bisect.bisect_right(self._starts, lineno) - 1
        return self.statements[at] if at >= 0 else None

    @functools.cached_property
    def _starts(self) -> list[int]:
        """Each statement's first line in the buffer (a prompt looks around a line two or three times)."""
        return [statement.lineno + offset for statement, offset in self.statements]


def outline_of(buffer: str) -> Outline | None:
    """The outline of a fresh parse (``lint.parse_or_none`` keeps the last two trees); None if it does not parse."""
    tree = lint.parse_or_none(buffer)
    return Outline.of_tree(tree) if tree is not None else None


class OutlineTracker:
    """One document's outline from version to version: only the lines between the last unchanged top-level
    statement above an edit and the first below are parsed again (``incremental_lint.splice_units``); a full parse
    where that cannot be exact. A version that does not parse leaves the last outline to splice from. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._units: list[Unit] | None = None
        self.last_parsed = 0  # lines the last call parsed

    def outline(self, text: str) -> Outline | None:
        """The outline of ``text``; None if it does not parse."""
        # Where the parser's lines are not the "\n" cut, or a __future__ import changes the grammar: parse it all,
        # and keep nothing to splice from.
        if "\r" in text or "barry_as_FLUFL" in text:
            with self._lock:
                self._lines, self._units = [], None
            return outline_of(text)
        lines = text.split("\n")
        with self._lock:
            spliced = splice_units(self._lines, self._units, lines)
            if spliced is None:
                try:
                    tree = lint.parse(text)
                except SyntaxError:
                    return None
                spliced = units_of(tree.body, lines), len(lines)
            (self._units, self.last_parsed), self._lines = spliced, lines
            return Outline.of_units(self._units)
