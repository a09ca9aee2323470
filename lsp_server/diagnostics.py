"""Pyflakes findings as LSP diagnostics: errors as Error, warnings as Warning, ranges in the client's units."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator

from lsprotocol import types

from model_runtime.incremental_lint import IncrementalLint
from model_runtime.lint import SYNTAX_ERROR, LintError, check

SOURCE = "editseq"
_WORD = re.compile(r"\w+")
# Documents whose last check is kept for the next one (the rest are checked from scratch when they come back), and
# the largest kept: a check keeps the document's syntax trees, some 40 MB for a million characters.
KEPT_DOCUMENTS = 8
KEPT_MAX_CHARS = 1_000_000
_kept: OrderedDict[str, IncrementalLint] = OrderedDict()
_kept_lock = threading.Lock()


def lint_diagnostics(text: str, uri: str | None = None) -> tuple[list[LintError], list[types.Diagnostic]]:
    """Lint ``text`` with pyflakes; returns the findings and their diagnostics (UTF-16 columns, LSP's default).

    With ``uri``, the check reuses what did not change since that document's last check (``IncrementalLint``:
    the same findings as a full check, in a fraction of the time after a small edit).
    """
    findings = check(text) if uri is None or len(text) > KEPT_MAX_CHARS else _incremental(uri, text)
    lines = text.split("\n")
    return findings, [to_diagnostic(f, lines) for f in findings]


def _incremental(uri: str, text: str) -> list[LintError]:
    with _kept_lock:
        lint = _kept.pop(uri, None) or IncrementalLint()
        _kept[uri] = lint
        while len(_kept) > KEPT_DOCUMENTS:
            _kept.popitem(last=False)
    return lint.check(text)


def worker_lint(text: str, uri: str | None = None) -> tuple[list[LintError], list[types.Diagnostic]]:
    """``lint_diagnostics`` as the lint worker process runs it (under ``frozen_after``)."""
    with frozen_after():
        return lint_diagnostics(text, uri)


@contextlib.contextmanager
def frozen_after() -> Iterator[None]:
    """The cyclic garbage collector off inside, then only what was allocated inside collected, and the survivors
    frozen out of the collector's sight.

    The kept syntax trees are a few hundred thousand objects; a full collection that lands inside a check scans
    them all and doubles its time. Frozen, they are never scanned again (they are acyclic, and freed by reference
    counting when a document moves on), and a check's own cycles are collected from the young generations at once.
    Only for a process that does nothing else, like the lint worker: freezing is process-wide.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.collect(1)
        gc.freeze()
        gc.enable()


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
