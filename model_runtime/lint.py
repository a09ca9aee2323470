"""Pyflakes, in process: ``check(text) -> list[LintError]`` and which errors an edit introduced.

Which pyflakes messages are *errors* (the program is broken: it fails to compile, or raises as soon as the
offending line runs) and which are only *warnings* (style and dead code) is decided here, once, for the whole
project. LintSeq keeps every intermediate program free of new errors; the editor only shows suggestions that add
none. Warnings never block anything: a half-written program naturally has unused imports and variables.

The decision, by pyflakes message class (``tests/test_lint.py`` checks that every class pyflakes defines is listed):

- errors: syntax errors (from the parser, kind ``SyntaxError``), undefined names, locals and exports, ``return`` /
  ``yield`` / ``await`` outside a function, ``break`` / ``continue`` outside a loop, duplicate arguments, a bare
  ``except:`` that is not last, starred-assignment mistakes, ``import *`` inside a function, ``raise
  NotImplemented``, ``print >>f`` syntax, undefined ``__future__`` features and late ``__future__`` imports,
  forward annotations that do not parse, and format strings that cannot be formatted with the arguments given.
- warnings: everything else (unused imports, variables and annotations, redefinitions, ``is`` with a literal,
  f-strings without placeholders, ``import *`` used, repeated dict keys, extra named or positional format arguments
  that Python silently ignores, and so on).
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from pyflakes import checker as _checker
from pyflakes import messages as _messages

from model_runtime.edits import common_ends

SYNTAX_ERROR = "SyntaxError"

ERROR_KINDS: frozenset[str] = frozenset(
    {
        SYNTAX_ERROR,
        "UndefinedName",
        "UndefinedLocal",
        "UndefinedExport",
        "ReturnOutsideFunction",
        "YieldOutsideFunction",
        "BreakOutsideLoop",
        "ContinueOutsideLoop",
        "DuplicateArgument",
        "DefaultExceptNotLast",
        "TwoStarredExpressions",
        "TooManyExpressionsInStarredAssignment",
        "ImportStarNotPermitted",
        "LazyImportStarNotPermitted",
        "LazyImportNotAtModuleScope",
        "RaiseNotImplemented",
        "InvalidPrintSyntax",
        "FutureFeatureNotDefined",
        "LateFutureImport",
        "ForwardAnnotationSyntaxError",
        "StringDotFormatInvalidFormat",
        "StringDotFormatMissingArgument",
        "StringDotFormatMixingAutomatic",
        "PercentFormatInvalidFormat",
        "PercentFormatMissingArgument",
        "PercentFormatMixedPositionalAndNamed",
        "PercentFormatExpectedMapping",
        "PercentFormatExpectedSequence",
        "PercentFormatPositionalCountMismatch",
        "PercentFormatStarRequiresSequence",
        "PercentFormatUnsupportedFormatCharacter",
    }
)

WARNING_KINDS: frozenset[str] = frozenset(
    {
        "UnusedImport",
        "UnusedVariable",
        "UnusedAnnotation",
        "UnusedIndirectAssignment",
        "RedefinedWhileUnused",
        "ImportShadowedByLoopVar",
        "ImportStarUsed",
        "ImportStarUsage",
        "EagerUseOfLazyImport",
        "IsLiteral",
        "IfTuple",
        "AssertTuple",
        "FStringMissingPlaceholders",
        "TStringMissingPlaceholders",
        "MultiValueRepeatedKeyLiteral",
        "MultiValueRepeatedKeyVariable",
        "StringDotFormatExtraNamedArguments",
        "StringDotFormatExtraPositionalArguments",
        "PercentFormatExtraNamedArguments",
        "DoctestSyntaxError",
    }
)


@dataclass(frozen=True, order=True)
class LintError:
    """One pyflakes finding: 1-based line, 0-based column, the message class name, the text."""

    line: int
    column: int
    kind: str
    message: str

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings (see the module docstring for the split)."""
        return is_error_kind(self.kind)

    def __str__(self) -> str:
        return f"{self.line}:{self.column + 1}: {self.message} [{self.kind}]"


def is_error_kind(kind: str) -> bool:
    """Whether a pyflakes message class name counts as an error; unknown kinds count as errors (fail safe)."""
    return kind not in WARNING_KINDS


def check(text: str, *, errors_only: bool = False) -> list[LintError]:
    """Lint a Python source string with pyflakes; returns findings sorted by position."""
    try:
        tree = parse(text)
    except SyntaxError as exc:
        return [syntax_error(exc, text)]
    found = check_tree(tree)
    if errors_only:
        found = [e for e in found if e.is_error]
    return found


def errors(text: str) -> list[LintError]:
    """The findings of ``check`` that count as errors."""
    return check(text, errors_only=True)


def parse(text: str) -> ast.Module:
    """Parse source text the way ``check`` does (raises SyntaxError, and ValueError for NUL bytes as SyntaxError)."""
    with warnings.catch_warnings():
        # Invalid escape sequences and the like are the program's business, not ours.
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, absurd nesting
            raise SyntaxError(str(exc)) from exc


def parse_or_none(text: str) -> ast.Module | None:
    """``parse(text)``, or None when the text does not parse. The last two results are kept (by text): a suggestion
    reads the same buffer's tree more than once (its focus, its prompt), and parsing a 5,000-line buffer holds the
    GIL for tens of milliseconds. Treat the tree as read-only."""
    with _parsed_lock:
        if text in _parsed:
            _parsed.move_to_end(text)
            return _parsed[text]
    try:
        tree = parse(text)
    except SyntaxError:
        tree = None
    with _parsed_lock:
        _parsed[text] = tree
        while len(_parsed) > _PARSED_KEPT:
            _parsed.popitem(last=False)
    return tree


_PARSED_KEPT = 2
_parsed: OrderedDict[str, ast.Module | None] = OrderedDict()
_parsed_lock = threading.Lock()


def check_tree(tree: ast.Module) -> list[LintError]:
    """Run pyflakes on an already parsed module; returns findings sorted by position."""
    try:
        result = _Checker(tree, filename="<buffer>", withDoctest=False)
    except Exception as exc:  # noqa: BLE001 - pyflakes asserts on code that parses but cannot compile
        return [_unchecked(tree, exc)]
    return sorted(_from_message(m) for m in result.messages)


def _unchecked(tree: ast.Module, exc: Exception) -> LintError:
    """The error for a tree pyflakes gave up on: Python parses a ``from __future__`` import inside a function or
    class, but refuses to compile it (pyflakes asserts); placed at such an import when there is one, else line 1."""
    misplaced = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "__future__" and node not in tree.body
    ]
    return LintError(
        min(misplaced, default=1), 0, SYNTAX_ERROR, f"code pyflakes cannot check ({type(exc).__name__})"
    )


def _builtin_names() -> frozenset[str]:
    names = getattr(_checker.Checker, "builtIns", None)  # pyflakes < 3.3 keeps them on the class
    if isinstance(names, (set, frozenset)):
        return frozenset(names)
    return frozenset(_checker.builtin_vars | _checker._custom_builtins())


BUILTIN_NAMES: frozenset[str] = _builtin_names()  # the names pyflakes treats as always defined
_thread = threading.local()


def _builtin_bindings() -> dict[str, _checker.Builtin]:
    """This thread's table of builtin bindings, with the marks a previous run left on them cleared."""
    table = getattr(_thread, "builtins", None)
    if table is None:
        table = _thread.builtins = {name: _checker.Builtin(name) for name in BUILTIN_NAMES}
    for binding in table.values():
        binding.used = False
    return table


class _Checker(_checker.Checker):
    """pyflakes' Checker, with the builtins put into the module scope by one dict update.

    The stock checker binds every builtin through ``addBinding`` on each run, a third of the time of checking a
    small program; LintSeq checks thousands of small programs. Same messages (tests/test_lint.py compares).
    """

    # The stock __init__ assigns and loops over this; an empty, unassignable one skips that loop.
    builtIns = property(lambda self: (), lambda self, value: None)

    @contextlib.contextmanager
    def in_scope(self, cls):
        with super().in_scope(cls):
            if len(self.scopeStack) == 1:  # the module scope, entered first
                self.scopeStack[0].update(_builtin_bindings())
            yield


def syntax_error(exc: SyntaxError, text: str) -> LintError:
    """Turn a parser SyntaxError into a LintError, clamping its position into the text."""
    n_lines = max(1, text.count("\n") + 1)
    line = min(max(exc.lineno or 1, 1), n_lines)
    column = max((exc.offset or 1) - 1, 0)
    return LintError(line, column, SYNTAX_ERROR, exc.msg or str(exc))


def _from_message(message: _messages.Message) -> LintError:
    text = message.message % message.message_args
    return LintError(message.lineno, message.col, type(message).__name__, text)


def new_errors(
    before: str | Sequence[LintError],
    after: str | Sequence[LintError],
    *,
    before_text: str | None = None,
    after_text: str | None = None,
) -> list[LintError]:
    """Errors in ``after`` that ``before`` did not already have.

    Either side may be source text (it is linted) or a list of findings. An error counts as old if ``before`` has
    one of the same kind and message on the line that maps onto it (lines are mapped with difflib, so an insertion
    above an old error does not make it new); failing that, if ``before`` has an unmatched one of the same kind and
    message anywhere (an edit can move where Python reports a syntax error). Warnings are ignored.
    """
    if isinstance(before, str):
        before_text, before = before, errors(before)
    if isinstance(after, str):
        after_text, after = after, errors(after)
    old = [e for e in before if e.is_error]
    fresh = [e for e in after if e.is_error]
    if not fresh:
        return []
    if not old:
        return fresh

    line_map = (
        _line_map(before_text, after_text) if before_text is not None and after_text is not None else {}
    )
    unmatched_old = Counter((e.line, e.kind, e.message) for e in old)
    remaining: list[LintError] = []
    for e in fresh:
        key = (line_map.get(e.line, e.line), e.kind, e.message)
        if unmatched_old[key] > 0:
            unmatched_old[key] -= 1
        else:
            remaining.append(e)

    by_message = Counter()
    for (_, kind, message), count in unmatched_old.items():
        by_message[(kind, message)] += count
    result = []
    for e in remaining:
        if by_message[(e.kind, e.message)] > 0:
            by_message[(e.kind, e.message)] -= 1
        else:
            result.append(e)
    return result


def _line_map(before_text: str, after_text: str) -> dict[int, int]:
    """1-based line numbers of ``after`` mapped to the line of ``before`` they came from (unchanged lines only).

    The common first and last lines are matched directly and difflib aligns only what lies between: for an
    insertion (every candidate edit) that is nothing, where difflib over a whole 5,000-line file took seconds.
    """
    a = before_text.splitlines()
    b = after_text.splitlines()
    head, tail = common_ends(a, b)
    mapping = {line: line for line in range(1, head + 1)}
    mapping.update((len(b) - i, len(a) - i) for i in range(tail))
    middle = difflib.SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False)
    for block in middle.get_matching_blocks():
        for offset in range(block.size):
            mapping[head + block.b + offset + 1] = head + block.a + offset + 1
    return mapping
