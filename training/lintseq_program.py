"""What the LintSeq sampler knows about one program: ``Program`` (lines, dependencies, weights, def-use facts) and
``Program.judge``, which tells what a deletion leaves without the linter where it can.

The def-use facts let ``Program.judge`` tell, for most deletions, what the linter would find: pyflakes resolves
names in textual order within a scope (function bodies at the end of the module), so removing a binding is
harmless when every remaining read of the name still finds a binding, and otherwise those reads are exactly the
undefined names pyflakes would report. ``training.lintseq_analysis.prepare`` builds a ``Program``;
``training.lintseq_defuse`` collects its bindings and reads.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from model_runtime import lint

MODULE, FUNCTION, CLASS, COMPREHENSION = "module", "function", "class", "comprehension"
CLEAN, BLAME, LINT = "clean", "blame", "lint"


@dataclass(frozen=True)
class Binding:
    """A name bound on ``line`` in scope ``scope``; reads on lines after ``ready`` (its statement's last line) see
    it, unless it does not ``cover`` later reads (an ``except ... as`` name, a bare annotation)."""

    line: int
    ready: int
    scope: int
    covers: bool


@dataclass(frozen=True)
class Use:
    """A read of a name on ``line`` in scope ``scope``; ``guarded`` when inside a ``try`` body, where pyflakes
    stays silent about undefined names if a handler catches NameError."""

    line: int
    scope: int
    guarded: bool = False


@dataclass(frozen=True)
class Clauses:
    """The clauses a ``try`` (handlers, ``finally``, ``else``) or ``match`` (cases, as ``handlers``) needs."""

    head: int
    handlers: tuple[int, ...]
    finally_line: int | None
    else_line: int | None
    unknown: bool = False

    @property
    def lines(self) -> tuple[int, ...]:
        return tuple(x for x in (*self.handlers, self.finally_line) if x is not None)

    def broken(self, gone: set[int]) -> bool:
        """Whether the statement is left invalid: no handler (or case) and no ``finally``, or an ``else`` with
        no handler."""
        handlers = any(h not in gone for h in self.handlers)
        has_finally = self.finally_line is not None and self.finally_line not in gone
        has_else = self.else_line is not None and self.else_line not in gone
        return not handlers and (not has_finally or has_else)


@dataclass(frozen=True)
class Program:
    """One program, analysed for sampling (see the module docstring)."""

    lines: tuple[str, ...]
    dependents: tuple[frozenset[int], ...]  # lines deleted together with line i (i itself excluded)
    candidates: tuple[int, ...]  # lines that may be picked
    weights: tuple[float, ...]  # picking weight of each candidate, same order
    try_lines: tuple[int, ...]  # first lines of try statements
    statement: tuple[frozenset[int], ...]  # all lines of the statement (logical line) line i belongs to
    binds: tuple[tuple[str, ...], ...]  # names each line binds
    bindings: dict[str, tuple[Binding, ...]]
    uses: dict[str, tuple[Use, ...]]
    string_uses: dict[str, frozenset[int]]  # names read from strings (annotations, __all__): resolved late
    opaque: frozenset[str]  # names a del, global or nonlocal touches: deleting their bindings is linted
    scope_parent: tuple[int, ...]  # scope id -> enclosing scope id (-1 for the module)
    scope_kind: tuple[str, ...]  # scope id -> MODULE, FUNCTION (def or lambda), CLASS or COMPREHENSION
    star_import: bool  # a ``from m import *`` turns undefined names into warnings: never predicted
    risky: frozenset[int]  # lines always linted when deleted: global, nonlocal, import *, del, walrus
    needs: dict[int, Clauses]  # except/finally/case line -> the statement that cannot lose all of them
    block: dict[int, frozenset[int]]  # compound statement header -> the code lines of its body
    headers_over: tuple[tuple[int, ...], ...]  # line -> headers whose body holds it

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    # The original's pyflakes errors are tolerated in every state. Only a lint call needs them, and most
    # programs are sampled without one, so they are computed on first use.
    @functools.cached_property
    def baseline(self) -> Counter:
        """(kind, message) of the original's errors."""
        return Counter((kind, message) for _, kind, message in self.baseline_at.elements())

    @functools.cached_property
    def baseline_at(self) -> Counter:
        """(line index, kind, message) of the original's errors."""
        return Counter((e.line - 1, e.kind, e.message) for e in lint.errors(self.text))

    @functools.cached_property
    def _undefined_at_start(self) -> dict[str, list[int] | None]:
        """name -> reads of it already undefined in the original (None: the analysis cannot tell)."""
        return {}

    def empty_headers(self, deleted: Iterable[int], gone: set[int]) -> list[int]:
        """Remaining headers whose whole body is now gone: a syntax error that only deleting them cures."""
        return [h for i in deleted for h in self.headers_over[i] if h not in gone and self.block[h] <= gone]

    def broken_statements(self, deleted: Iterable[int], gone: set[int]) -> list[int]:
        """Heads of remaining ``try``/``match`` statements left without the clauses they need: a syntax error
        that only deleting the whole statement cures (Python reports it on a later line)."""
        heads = []
        for i in deleted:
            needed = self.needs.get(i)
            if needed is not None and needed.head not in gone and needed.broken(gone):
                heads.append(needed.head)
        return heads

    def judge(self, deleted: Iterable[int], gone: set[int]) -> tuple[str, list[int]]:
        """What deleting ``deleted`` (already included in ``gone``) from an error-free state leaves, without the
        linter where the def-use facts can tell: ``("clean", [])``; ``("blame", lines)`` when the only new errors
        are undefined names at ``lines`` (pyflakes would report exactly those); else ``("lint", [])``.

        Clean requires whole statements deleted, none of them risky, no compound statement left without a body
        or its needed clauses, and every remaining read of a name they bind still bound for pyflakes. The new
        state's findings are then a subset of the old state's.
        """
        blamed: set[int] = set()
        names: set[str] = set()
        for i in deleted:
            if i in self.risky or not self.statement[i] <= gone:
                return LINT, []
            if i - 1 not in deleted and self._open_above(i, gone):
                return LINT, []
            names.update(self.binds[i])
        if self.empty_headers(deleted, gone) or self.broken_statements(deleted, gone):
            return LINT, []
        for name in names:
            reads = self._unbound_reads(name, gone)
            if reads is None:
                return LINT, []
            blamed.update(reads)
        return (BLAME, sorted(blamed)) if blamed else (CLEAN, [])

    def _unbound_reads(self, name: str, gone: set[int] | frozenset[int]) -> list[int] | None:
        """Remaining lines that read ``name`` where pyflakes will now find it undefined; None when that cannot be
        told without pyflakes (a builtin's name, a read bound later in its scope, class bodies, comprehensions,
        names in strings or touched by ``del``/``global``/``nonlocal``, an error the original already had)."""
        if name in self.opaque or not self.string_uses.get(name, frozenset()) <= gone:
            return None
        alive = [b for b in self.bindings.get(name, ()) if b.line not in gone]
        unbound = []
        for use in self.uses.get(name, ()):
            if use.line in gone:
                continue
            if any(b.scope == use.scope and b.covers and b.ready < use.line for b in alive):
                continue
            kind = self.scope_kind[use.scope]
            if kind in (CLASS, COMPREHENSION) or any(b.scope == use.scope for b in alive):
                return None
            if kind == FUNCTION and self._bound_outside(use.scope, alive):
                continue  # read from an enclosing function or the module, bound by the time the body runs
            if use.guarded or self.star_import or name in lint.BUILTIN_NAMES:
                return None
            unbound.append(use.line)
        if unbound and gone:
            cache = self._undefined_at_start
            if name not in cache:
                cache[name] = self._unbound_reads(name, frozenset())
            at_start = cache[name]
            if at_start is None or not set(at_start).isdisjoint(unbound):
                return None  # the original already had (or may have had) the error: pyflakes tolerates it
        return unbound

    def _bound_outside(self, scope: int, alive: list[Binding]) -> bool:
        """Whether one of the ``alive`` bindings is in a function or module scope enclosing ``scope``."""
        outer = self.scope_parent[scope]
        while outer >= 0:
            if self.scope_kind[outer] in (FUNCTION, MODULE) and any(
                b.scope == outer and b.covers for b in alive
            ):
                return True
            outer = self.scope_parent[outer]
        return False

    def _open_above(self, i: int, gone: set[int]) -> bool:
        """Whether the nearest remaining line above ``i`` may continue into what follows it: it ends with a
        backslash, or its statement already lost lines (so the analysis no longer knows where it ends)."""
        p = i - 1
        while p >= 0 and p in gone:
            p -= 1
        if p < 0:
            return False
        return self.lines[p].rstrip().endswith("\\") or not self.statement[p].isdisjoint(gone)
