"""Pyflakes findings as LSP diagnostics: errors as Error, warnings as Warning, ranges in the client's units."""

from __future__ import annotations

import os
import re

from lsprotocol import types

from model_runtime.lint import SYNTAX_ERROR, LintError, check

SOURCE = "editseq"
_WORD = re.compile(r"\w+")


def lint_diagnostics(text: str) -> tuple[list[LintError], list[types.Diagnostic]]:
    """Lint ``text`` with pyflakes; returns the findings and their diagnostics (UTF-16 columns, LSP's default)."""
    findings = check(text)
    lines = text.split("\n")
    return findings, [to_diagnostic(f, lines) for f in findings]


def to_diagnostic(finding: LintError, lines: list[str]) -> types.Diagnostic:
    """One diagnostic spanning the identifier the finding points at (or one character)."""
    row = min(max(finding.line - 1, 0), max(len(lines) - 1, 0))
    line = lines[row] if lines else ""
    start = _char_index(line, finding.column, is_bytes=finding.kind != SYNTAX_ERROR)
    match = _WORD.match(line, start)
    end = match.end() if match and match.end() > start else min(start + 1, len(line))
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=row, character=_utf16(line, start)),
            end=types.Position(line=row, character=_utf16(line, max(end, start))),
        ),
        message=finding.message,
        severity=types.DiagnosticSeverity.Error if finding.is_error else types.DiagnosticSeverity.Warning,
        source=SOURCE,
        code=finding.kind,
    )


def _char_index(line: str, column: int, *, is_bytes: bool) -> int:
    # The AST reports UTF-8 byte offsets; the parser's SyntaxError reports characters.
    if is_bytes and not line.isascii():
        column = len(line.encode("utf-8")[:column].decode("utf-8", errors="ignore"))
    return min(max(column, 0), len(line))


def _utf16(line: str, index: int) -> int:
    prefix = line[:index]
    return len(prefix) if prefix.isascii() else len(prefix.encode("utf-16-le")) // 2


def quiet_worker() -> None:
    """Initializer of the lint worker process: its stdout is the server's LSP channel, so send it to stderr."""
    os.dup2(2, 1)
