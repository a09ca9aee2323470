"""Pyflakes for a buffer that changes a line at a time: function bodies whose text did not change are not re-checked.

Pyflakes checks a module in two passes: the module pass walks every top-level statement (defining the module's
names, checking class bodies, decorators, defaults), and the deferred pass then checks every function body (and
lambda, and postponed annotation) against the finished module scope. The deferred pass is most of the time. Here
the module pass always runs in full; the deferred work of each *unit* (a top-level statement, or the statements
sharing its lines) is recorded the first time, and replayed later when nothing it depends on changed:

- the unit's own source text (the key; the same text parses to the same tree, lines shifted),
- every module-scope name its deferred work looked up, and what it found there (absent, or a binding of the same
  class, import target and origin), and the module flags it reads (``from __future__ import annotations``),
- and, for units whose messages quote another line ("redefinition of unused 'x' from line 3"), the lines quoted.

What the deferred work does to the rest of the check is recorded too and replayed: its messages (lines relative to
the unit), the module names it marked used (so "imported but unused" stays right) and the module imports it
redefined. Deferred work that would change the module scope itself (``global``, ``nonlocal``) makes the whole
check fall back to a full pyflakes run, as does anything else unforeseen: the result is always exactly what
``model_runtime.lint.check`` returns (tests/test_incremental_lint.py compares them on stdlib modules under random
one-line edits).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyflakes import checker as _checker
from pyflakes import messages as _messages

from model_runtime.lint import LintError, _Checker, _from_message, check, parse, syntax_error

logger = logging.getLogger(__name__)
# Checked in full, without reuse: deferred work that rebinds module names (not worth recording), other line
# endings than \n (the cut into lines must be the parser's), and the one __future__ import that changes the grammar.
_UNSUPPORTED_WORDS = ("global", "nonlocal", "barry_as_FLUFL", "\r")  # a quick test before the exact one
_UNSUPPORTED = re.compile(r"\b(?:global|nonlocal|barry_as_FLUFL)\b|\r")
# Message classes that quote the line of a second node (``orig_loc``) in their text.
_QUOTES_A_LINE = frozenset(
    cls.__name__
    for cls in vars(_messages).values()
    if isinstance(cls, type)
    and issubclass(cls, _messages.Message)
    and "orig_loc" in inspect.signature(cls.__init__).parameters
)
# From 3.12 pyflakes puts every def's type parameters in a scope of their own; the fast path below predates that.
_TYPE_PARAMS = sys.version_info >= (3, 12)
_REPLAYED = object()  # the scope in the ``used`` mark a replayed unit leaves (never any real scope)


class _Fallback(Exception):
    """Deferred work touched the module scope in a way a replay could not reproduce."""


@dataclass
class Unit:
    """Top-level statements sharing lines: 1-based first and last line, their source text and syntax trees.

    The trees are reused while the unit's text is unchanged, so their line numbers count from ``base`` (where the
    unit started when it was parsed), not from ``start``: messages are moved by ``start - base``.
    """

    start: int
    end: int
    text: str
    base: int = 0
    stmts: list[ast.stmt] = field(default_factory=list)

    def moved(self, by: int) -> Unit:
        return Unit(self.start + by, self.end + by, self.text, self.base, self.stmts)


@dataclass
class Recording:
    """What one unit's deferred work read from the module scope, and what it did to the rest of the check."""

    unit: Unit
    flags: tuple
    looked_up: dict[str, Any] = field(default_factory=dict)  # name -> binding found (None: absent)
    messages: list[_messages.Message] = field(default_factory=list)
    marked_used: set[str] = field(default_factory=set)
    redefined: list[tuple[str, Any]] = field(default_factory=list)  # (module import name, node redefining it)


@dataclass(frozen=True)
class Entry:
    """A recording reduced to what a later run compares and replays (lines relative to the unit's first line)."""

    flags: tuple
    start: int  # absolute first line, compared only when ``quotes_lines``
    quotes_lines: bool
    looked_up: tuple[tuple[str, Any], ...]
    findings: tuple[tuple[int, int, str, str], ...]  # (relative line, column, kind, text)
    marked_used: tuple[str, ...]
    redefined: tuple[tuple[str, int, int], ...]  # (name, relative line, column)


def first_line(stmt: ast.stmt) -> int:
    """A statement's first 1-based line: its first decorator's, if it has decorators."""
    return min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])


def units_of(stmts: list[ast.stmt], lines: list[str]) -> list[Unit]:
    """Group parsed top-level statements (line numbers as in ``lines``) into units."""
    units: list[Unit] = []
    for stmt in stmts:
        start = first_line(stmt)
        end = stmt.end_lineno or stmt.lineno
        if units and start <= units[-1].end:
            units[-1].end = max(units[-1].end, end)
            units[-1].stmts.append(stmt)
        else:
            units.append(Unit(start, end, "", start, [stmt]))
    for unit in units:
        unit.text = "\n".join(lines[unit.start - 1 : unit.end])
    return units


class _RecordingModuleScope(_checker.ModuleScope):
    """The module scope while deferred work runs: lookups are logged for the running unit; changes abort."""

    def _saw(self, name: str) -> None:
        recording = self.recording
        if recording is not None and name not in recording.looked_up:
            recording.looked_up[name] = dict.get(self, name)
        watched = self.watched
        if watched is not None and name not in watched:
            binding = dict.get(self, name)
            if binding is not None:
                watched[name] = (binding, binding.used, len(getattr(binding, "redefined", ())))

    def get(self, name, default=None):  # noqa: ANN001, ANN201 (dict's signature)
        self._saw(name)
        return dict.get(self, name, default)

    def __getitem__(self, name):  # noqa: ANN001, ANN204
        self._saw(name)
        return dict.__getitem__(self, name)

    def __contains__(self, name):  # noqa: ANN001, ANN204
        self._saw(name)
        return dict.__contains__(self, name)

    def _changes(self, *args: Any, **kwargs: Any) -> Any:
        raise _Fallback("deferred work changed or enumerated the module scope")

    __setitem__ = __delitem__ = setdefault = pop = popitem = update = clear = _changes
    keys = values = items = __iter__ = _changes


class _IncrementalChecker(_Checker):
    """The project's pyflakes checker, recording each unit's deferred work and replaying it from ``memo``."""

    def __init__(self, tree: ast.Module, units: list[Unit], memo: dict[str, Entry]):
        self._units = units
        self._of_statement = [index for index, unit in enumerate(units) for _ in unit.stmts]
        self._unit_of_stmt = {id(stmt): index for index, unit in enumerate(units) for stmt in unit.stmts}
        self._memo = memo
        self._unit: int | None = None
        self._sink: list | None = None
        self.recordings: dict[int, Recording] = {}
        self.replayed: list[LintError] = []
        self.hits: dict[int, Entry] = {}
        super().__init__(tree, filename="<buffer>", withDoctest=False)

    # -------------------------------------------------------------------------- which unit the work belongs to

    def handleChildren(self, tree, omit=None):  # noqa: ANN001, ANN201 (pyflakes' signature)
        if tree is not self.root or self._running_deferred:
            return super().handleChildren(tree, omit)
        for index, node in enumerate(tree.body):  # the module pass: one top-level statement at a time
            self._unit = self._of_statement[index]
            self.handleNode(node, tree)
        self._unit = None
        return None

    def deferFunction(self, callable: Callable[[], Any]) -> None:  # noqa: A002 (pyflakes' name)
        self._deferred.append((callable, self.scopeStack[:], self.offset, self._unit))

    def addBinding(self, node, value):  # noqa: ANN001, ANN201
        value.unit = self._unit
        return super().addBinding(node, value)

    @contextlib.contextmanager
    def in_scope(self, cls):  # noqa: ANN001, ANN201
        with super().in_scope(cls):
            self.scopeStack[-1].unit = self._unit if self._running_deferred else None
            yield

    def report(self, messageClass, *args, **kwargs):  # noqa: ANN001, ANN201, N803
        args = tuple(self._where(arg) if isinstance(arg, ast.AST) else arg for arg in args)
        super().report(messageClass, *args, **kwargs)
        if self._sink is not None:
            self._sink.append(self.messages[-1])

    def _where(self, node: ast.AST) -> Any:
        """``node``, or its place in the current text when its unit's tree was parsed further up or down."""
        if not hasattr(node, "lineno"):
            return node
        unit = self._units[self._unit_of(node)]
        if unit.start == unit.base:
            return node
        return _Location(node.lineno + unit.start - unit.base, node.col_offset)

    def _unit_of(self, node: ast.AST) -> int:
        parents, root = self._parents, self.root
        while (parent := parents.get(node)) is not root:
            if parent is None:
                raise _Fallback(f"{type(node).__name__} node outside the module's tree")
            node = parent
        return self._unit_of_stmt[id(node)]

    def FUNCTIONDEF(self, node):  # noqa: ANN001, ANN201, N802 (pyflakes' handler)
        """pyflakes' FUNCTIONDEF and LAMBDA for a def without decorators, annotations, defaults or repeated
        arguments, minus their steps that do nothing for it (most of the module pass of a file of functions)."""
        args = node.args
        if _TYPE_PARAMS or node.decorator_list or node.returns or args.defaults or args.kw_defaults:
            return super().FUNCTIONDEF(node)
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, (args.vararg, args.kwarg))]
        if any(arg.annotation for arg in every):
            return super().FUNCTIONDEF(node)
        names = [arg.arg for arg in every]
        if len(set(names)) < len(names):
            return super().FUNCTIONDEF(node)

        def runFunction():  # noqa: N802 (as pyflakes names it)
            with self.in_scope(_checker.FunctionScope):
                self.handleChildren(node, omit=("decorator_list", "returns", "type_params"))

        self.deferFunction(runFunction)
        self.addBinding(node, _checker.FunctionDefinition(node.name, node))
        return None

    ASYNCFUNCTIONDEF = FUNCTIONDEF

    # ------------------------------------------------------------------------------------------ deferred pass

    def _run_deferred(self) -> None:
        module = self.scopeStack[0]
        if module.importStarred:
            raise _Fallback("import * at module level")
        flags = (module._annotations_future_enabled,)
        queued = {unit for *_, unit in self._deferred}
        for unit in queued:
            entry = self._memo.get(self._units[unit].text) if unit is not None else None
            if entry is not None and self._still_valid(entry, unit, module, flags):
                self.hits[unit] = entry
        self._running_deferred = True
        orig = (self.scopeStack, self.offset)
        module.__class__ = _RecordingModuleScope
        module.recording = module.watched = None
        try:
            while self._deferred:
                handler, scope, offset, unit = self._deferred.popleft()
                if unit in self.hits:
                    continue
                recording = None
                if unit is not None:
                    if unit not in self.recordings:
                        self.recordings[unit] = Recording(self._units[unit], flags)
                    recording = self.recordings[unit]
                self._unit, self._sink = unit, recording.messages if recording else None
                module.recording, module.watched = recording, {}
                self.scopeStack, self.offset = scope, offset
                handler()
                if recording is not None:
                    self._note_effects(recording, module.watched)
        finally:
            module.__class__ = _checker.ModuleScope
            del module.recording, module.watched
            self._unit = self._sink = None
        self.scopeStack, self.offset = orig
        for unit, entry in self.hits.items():
            self._replay(entry, self._units[unit].start, module)

    @staticmethod
    def _note_effects(recording: Recording, watched: dict[str, tuple]) -> None:
        for name, (binding, used_before, n_redefined) in watched.items():
            if binding.used is not used_before:
                recording.marked_used.add(name)
            redefined = getattr(binding, "redefined", ())
            recording.redefined.extend((name, node) for node in redefined[n_redefined:])

    def _still_valid(self, entry: Entry, unit: int, module: dict, flags: tuple) -> bool:
        if entry.flags != flags or (entry.quotes_lines and entry.start != self._units[unit].start):
            return False
        return all(
            signature(dict.get(module, name), unit, self._units, entry.quotes_lines) == seen
            for name, seen in entry.looked_up
        )

    def _replay(self, entry: Entry, start: int, module: dict) -> None:
        for line, column, kind, text in entry.findings:
            self.replayed.append(LintError(start + line, column, kind, text))
        for name in entry.marked_used:
            module[name].used = (_REPLAYED, None)
        for name, line, column in entry.redefined:
            module[name].redefined.append(_Location(start + line, column))

    # ------------------------------------------------------------------------------------------- dead scopes

    def checkDeadScopes(self) -> None:
        """Report each unit's own scopes into its recording, then the rest (the module scope last)."""
        everything = self.deadScopes
        rest = []
        for scope in everything:
            unit = getattr(scope, "unit", None)
            if unit is None:
                rest.append(scope)
                continue
            self.deadScopes, self._sink = [scope], self.recordings[unit].messages
            super().checkDeadScopes()
        self.deadScopes, self._sink = rest, None
        super().checkDeadScopes()
        self.deadScopes = everything

    def entries(self) -> dict[int, Entry]:
        """The recordings of this run as memo entries, by unit index."""
        out = {}
        for unit, rec in self.recordings.items():
            quotes = any(type(m).__name__ in _QUOTES_A_LINE for m in rec.messages)
            start, base = rec.unit.start, rec.unit.base
            out[unit] = Entry(
                flags=rec.flags,
                start=start,
                quotes_lines=quotes,
                looked_up=tuple(
                    (name, signature(binding, unit, self._units, quotes))
                    for name, binding in rec.looked_up.items()
                ),
                findings=tuple(
                    (f.line - start, f.column, f.kind, f.message) for f in map(_from_message, rec.messages)
                ),
                marked_used=tuple(sorted(rec.marked_used)),
                redefined=tuple((name, node.lineno - base, node.col_offset) for name, node in rec.redefined),
            )
        return out


@dataclass(frozen=True)
class _Location:
    """Where a replayed node was: all a pyflakes message reads of it."""

    lineno: int
    col_offset: int


def signature(binding: Any, unit: int, units: list[Unit], with_lines: bool) -> Any:
    """What deferred work can learn from a module binding: its class, import target, and where it came from."""
    if binding is None:
        return None
    source, owner = binding.source, getattr(binding, "unit", None)
    if owner == unit:  # defined by the unit itself: its place within the unit
        origin: Any = ("own", source.lineno - units[unit].base, source.col_offset, type(source).__name__)
    elif with_lines and owner is not None:
        origin = ("line", source.lineno - units[owner].base + units[owner].start)
    else:
        origin = "other"
    return (
        type(binding).__name__,
        getattr(binding, "fullName", None),
        getattr(binding, "module", None),
        getattr(binding, "real_name", None),
        getattr(binding, "is_lazy", None),
        origin,
    )


class IncrementalLint:
    """``check(text)`` equal to ``model_runtime.lint.check(text)``, reusing what did not change since the last call.

    Two things are reused: the syntax trees of the top-level statements outside the changed lines (only the lines
    between the last unchanged unit above and the first below are parsed again), and the deferred pyflakes work of
    units whose text and module-scope dependencies are unchanged (see the module docstring).
    """

    def __init__(self) -> None:
        self.memo: dict[str, Entry] = {}
        self.lines: list[str] = []
        self.units: list[Unit] | None = None  # of ``lines``; None when they did not parse
        self.last_hits = 0  # units replayed by the last check
        self.last_parsed = 0  # lines parsed by the last check
        self.failures = 0  # checks where the incremental path raised (and a full check answered): a bug

    def check(self, text: str) -> list[LintError]:
        self.last_hits = 0
        lines = text.split("\n")
        if any(word in text for word in _UNSUPPORTED_WORDS) and _UNSUPPORTED.search(text):
            self._forget()
            return check(text)
        units = self._splice(lines)
        if units is None:
            try:
                tree = parse(text)
            except SyntaxError as exc:
                self._forget()
                return [syntax_error(exc, text)]
            units, self.last_parsed = units_of(tree.body, lines), len(lines)
        tree = ast.Module(body=[stmt for unit in units for stmt in unit.stmts], type_ignores=[])
        try:
            result = _IncrementalChecker(tree, units, self.memo)
        except _Fallback:
            self._forget()
            return check(text)
        except Exception:  # a case this module did not foresee: the full check is always right
            logger.warning("incremental lint failed; checking in full", exc_info=True)
            self.failures += 1
            self._forget()
            return check(text)
        memo = {units[unit].text: entry for unit, entry in result.hits.items()}
        memo.update((units[unit].text, entry) for unit, entry in result.entries().items())
        self.memo, self.lines, self.units, self.last_hits = memo, lines, units, len(result.hits)
        return sorted([_from_message(m) for m in result.messages] + result.replayed)

    def fork(self) -> IncrementalLint:
        """A linter starting from this one's last check; checking with it leaves this one as it was (the two share
        only what a check never changes in place: the memo, lines and units are replaced, not mutated)."""
        clone = IncrementalLint()
        clone.memo, clone.lines, clone.units = self.memo, self.lines, self.units
        return clone

    def _forget(self) -> None:
        self.memo, self.lines, self.units = {}, [], None

    def _splice(self, lines: list[str]) -> list[Unit] | None:
        spliced = splice_units(self.lines, self.units, lines)
        if spliced is None:
            return None
        units, self.last_parsed = spliced
        return units


def splice_units(old: list[str], units: list[Unit] | None, lines: list[str]) -> tuple[list[Unit], int] | None:
    """The units of ``lines``, given the ``units`` of the ``old`` lines, parsing only between the last unchanged
    unit above the change and the first below; with the number of lines parsed. None where that cannot be done
    exactly (a full parse decides)."""
    if units is None:
        return None
    if lines == old:
        return units, 0
    same_top = 0
    limit = min(len(old), len(lines))
    while same_top < limit and old[same_top] == lines[same_top]:
        same_top += 1
    same_bottom = 0
    while same_bottom < limit - same_top and old[-1 - same_bottom] == lines[-1 - same_bottom]:
        same_bottom += 1
    changed_from, changed_to = same_top, len(old) - same_bottom  # 0-based, old lines [from, to) changed
    above = sum(1 for unit in units if unit.end <= changed_from)
    below = sum(1 for unit in units if unit.start > changed_to)
    # An indented line typed under a function continues it: parse again with one more unit on each side.
    for widen in (0, 1):
        kept_above = units[: max(above - widen, 0)]
        kept_below = units[len(units) - max(below - widen, 0) :]
        spliced = _parse_between(kept_above, kept_below, lines, len(lines) - len(old))
        if spliced is not None:
            return spliced
    return None


def _parse_between(
    above: list[Unit], below: list[Unit], lines: list[str], shift: int
) -> tuple[list[Unit], int] | None:
    below = [unit.moved(shift) for unit in below]
    first = above[-1].end + 1 if above else 1  # the lines parsed again: first..last (1-based)
    last = below[0].start - 1 if below else len(lines)
    segment = lines[first - 1 : last]
    # A line joined to the next by a backslash would join across the cut; __future__ imports change parsing.
    if (first > 1 and lines[first - 2].endswith("\\")) or (segment and segment[-1].endswith("\\")):
        return None
    source = "\n".join(segment)
    if "__future__" in source:
        return None
    try:
        tree = parse(source)
    except SyntaxError:
        return None
    ast.increment_lineno(tree, first - 1)
    return above + units_of(tree.body, lines) + below, len(segment)
