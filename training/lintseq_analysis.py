"""What the LintSeq sampler knows about one program, computed once: lines, dependencies, weights and def-use facts.

Which lines go with a line when it is deleted:

- the lines indented under it (its block, like the reference), where lines inside a multi-line string and lines
  that start with a closing bracket count as indented like the line above them (so a call's closing ``)`` goes
  with the call), and blank and comment lines as deep as the code around them;
- the continuation lines of the statement it starts (a multi-line string, a backslash continuation);
- the comments directly above it (a comment belongs to the code it introduces) and the blank lines right below
  it (so no state starts with blank lines, which the format's ``strip()`` would not keep); the reference instead
  leaves these for one odd first edit. A def's decorators;
- for the first line of an ``if``/``for``/``while``/``try``: its ``elif``/``else``/``except``/``finally`` clauses,
  which cannot stand alone (the reference reaches the same result through one lint round per clause).

The def-use facts let ``Program.judge`` tell, for most deletions, what the linter would find: pyflakes resolves
names in textual order within a scope (function bodies at the end of the module), so removing a binding is
harmless when every remaining read of the name still finds a binding, and otherwise those reads are exactly the
undefined names pyflakes would report.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model_runtime import lint
from model_runtime.edits import normalise

_CLOSERS = (")", "]", "}")
_ELSE = re.compile(r"\s*else\s*:")
_FINALLY = re.compile(r"\s*finally\s*:")
_ANNOTATION_LIKE = re.compile(r"[\w.\[\], |'\"]{1,120}")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_DECORATED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TRY_NODES = tuple(getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name))
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


def prepare(program: str, *, ignore_imports: bool = False) -> Program:
    """Analyse a program once for sampling. Raises ValueError if it does not parse."""
    if not isinstance(program, str):
        raise TypeError(f"program must be a str, not {type(program).__name__}")
    lines = tuple(normalise(program))
    text = "\n".join(lines)
    try:
        tree = lint.parse(text)
    except SyntaxError as exc:
        if text != program and _parses(program):  # e.g. a U+2028 or form feed inside a string literal
            raise ValueError(
                f"program does not parse once split into lines as the format does (str.splitlines): "
                f"line {exc.lineno}: {exc.msg}"
            ) from exc
        raise ValueError(f"program does not parse: line {exc.lineno}: {exc.msg}") from exc
    try:
        return _analyse(lines, text, tree, ignore_imports)
    except RecursionError:  # pyflakes and ast visitors recurse per nesting level; the parser allows deeper
        raise ValueError("program too deeply nested to analyse") from None


def _analyse(lines: tuple[str, ...], text: str, tree: ast.Module, ignore_imports: bool) -> Program:
    n = len(lines)
    starts, string_inner = _logical_lines(text, n)
    trivia = [
        (not line.strip() or line.lstrip().startswith("#")) and not string_inner[i]
        for i, line in enumerate(lines)
    ]
    code = [not trivia[i] and not string_inner[i] for i in range(n)]
    indents = _indents(lines, string_inner)

    members: dict[int, set[int]] = {}
    for i, start in enumerate(starts):
        members.setdefault(start, set()).add(i)
    statement = tuple(frozenset(members[starts[i]]) for i in range(n))

    dependents: list[set[int]] = []
    block: dict[int, frozenset[int]] = {}
    for i in range(n):
        indented = set()
        j = i + 1
        while j < n and indents[j] > indents[i]:  # the block indented under line i
            indented.add(j)
            j += 1
        dep = set(indented)
        if starts[i] == i and code[i]:  # the first line of a statement takes its continuation lines along
            dep |= members[i] - {i}
            j = max(members[i]) + 1  # a header's continuation lines may be as shallow as its first line
            while j < n and indents[j] > indents[i]:
                indented.add(j)
                j += 1
            dep |= indented
            body = frozenset(j for j in indented if code[j] and starts[j] not in members[i])
            if body:
                block[i] = body
        dependents.append(dep)
    _attach_trivia(lines, trivia, dependents)

    risky: set[int] = set()
    needs: dict[int, Clauses] = {}
    try_lines = []
    for node in _statements(tree):
        if isinstance(node, _TRY_NODES):
            try_lines.append(node.lineno - 1)
        if isinstance(node, _DECORATED) and node.decorator_list:  # a decorator cannot stay without its def
            first = min(d.lineno for d in node.decorator_list) - 1
            dependents[node.lineno - 1].update(range(first, node.lineno - 1))
        clauses, needed = _clauses(node, lines)
        if clauses:
            dependents[node.lineno - 1].update(clauses)
        if needed is not None and needed.unknown:
            risky.update(clauses)
        elif needed is not None:
            for line in needed.lines:
                needs[line] = needed

    candidates = [i for i in range(n) if code[i] and not (ignore_imports and "import" in lines[i])]
    tab_width = next((indents[i] for i in range(n) if indents[i] > 0), 1)
    weights = [1.0 if indents[i] == 0 else indents[i] / tab_width for i in candidates]

    facts = _DefUse([max(s) for s in statement])
    facts.visit(tree)
    risky |= facts.risky
    headers_over: list[list[int]] = [[] for _ in range(n)]
    for header, body in block.items():
        for j in body:
            headers_over[j].append(header)

    return Program(
        lines=lines,
        dependents=tuple(frozenset(d) for d in dependents),
        candidates=tuple(candidates),
        weights=tuple(weights),
        try_lines=tuple(sorted(try_lines)),
        statement=statement,
        binds=tuple(tuple(sorted(names)) for names in facts.binds_at(n)),
        bindings={name: tuple(found) for name, found in facts.bindings.items()},
        uses={name: tuple(found) for name, found in facts.uses.items()},
        string_uses={name: frozenset(found) for name, found in facts.string_uses.items()},
        opaque=frozenset(facts.opaque),
        scope_parent=tuple(facts.parents),
        scope_kind=tuple(facts.kinds),
        star_import=facts.star_import,
        risky=frozenset(risky),
        needs=needs,
        block=block,
        headers_over=tuple(tuple(h) for h in headers_over),
    )


def _parses(text: str) -> bool:
    try:
        lint.parse(text)
    except SyntaxError:
        return False
    return True


def _attach_trivia(lines: Sequence[str], trivia: Sequence[bool], dependents: list[set[int]]) -> None:
    """Give every run of comment and blank lines an owner: its leading blank lines go with the line above it, the
    rest (from its first comment on) with the line below; at either end of the file, the one neighbour takes all."""
    n = len(lines)
    i = 0
    while i < n:
        if not trivia[i]:
            i += 1
            continue
        end = i
        while end < n and trivia[end]:
            end += 1
        run = range(i, end)
        above, below = i - 1, end  # -1 or n when the run touches an end of the file
        first_comment = next((j for j in run if lines[j].strip()), end)
        for j in run:
            owner = above if (j < first_comment and above >= 0) or below >= n else below
            if 0 <= owner < n:
                dependents[owner].add(j)
        i = end


def _statements(tree: ast.Module):
    """Every statement of the module, nested ones included (expressions are not visited: faster than ast.walk)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        for field in ("body", "orelse", "finalbody"):
            stack.extend(getattr(node, field, ()))
        for clause in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
            stack.extend(clause.body)


def _clauses(node: ast.AST, lines: Sequence[str]) -> tuple[list[int], Clauses | None]:
    """The clause header lines (``elif``, ``else``, ``except``, ``finally``, ``case``) of a compound statement, and
    for a ``try`` or ``match`` the clauses it cannot lose all of (``None`` if it has none, or if a clause line could
    not be found, in which case its clauses are left to the linter)."""
    clauses: list[int] = []
    if isinstance(node, ast.If):
        current = node
        while current.orelse:
            first = current.orelse[0]
            if (
                len(current.orelse) == 1
                and isinstance(first, ast.If)
                and lines[first.lineno - 1].lstrip().startswith("elif")
            ):
                clauses.append(first.lineno - 1)
                current = first
                continue
            clauses += _keyword_line(lines, current.body[-1], first, _ELSE)
            break
    elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)) and node.orelse:
        clauses += _keyword_line(lines, node.body[-1], node.orelse[0], _ELSE)
    elif isinstance(node, _TRY_NODES):
        handlers = tuple(h.lineno - 1 for h in node.handlers)
        previous = (node.handlers[-1].body if node.handlers else node.body)[-1]
        else_line = finally_line = None
        found = True
        if node.orelse:
            found_else = _keyword_line(lines, previous, node.orelse[0], _ELSE)
            else_line, found = (found_else[0], True) if found_else else (None, False)
            previous = node.orelse[-1]
        if node.finalbody:
            found_finally = _keyword_line(lines, previous, node.finalbody[0], _FINALLY)
            finally_line = found_finally[0] if found_finally else None
            found = found and bool(found_finally)
        clauses = [*handlers, *(x for x in (else_line, finally_line) if x is not None)]
        if found:
            return clauses, Clauses(node.lineno - 1, handlers, finally_line, else_line)
        return clauses, Clauses(node.lineno - 1, (), None, None, unknown=True)
    elif hasattr(ast, "Match") and isinstance(node, ast.Match):
        cases = tuple(c.pattern.lineno - 1 for c in node.cases)
        return [], Clauses(node.lineno - 1, cases, None, None)
    return clauses, None


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


def _keyword_line(lines: Sequence[str], before: ast.AST, after: ast.AST, keyword: re.Pattern) -> list[int]:
    """The line between two statements that opens a clause (``else:``/``finally:``), found by its keyword."""
    first = min([after.lineno, *(d.lineno for d in getattr(after, "decorator_list", []))]) - 1
    for j in range(before.end_lineno, first + 1):
        if keyword.match(lines[j]):
            return [j]
    return []


class _DefUse(ast.NodeVisitor):
    """Collects bindings and reads of names with the scope they happen in (pyflakes' scoping, simplified
    conservatively: anything unusual makes the line risky, which only costs a lint call)."""

    def __init__(self, statement_end: Sequence[int]):
        self.statement_end = statement_end
        self.scope = 0
        self.scopes = 0
        self.parents: list[int] = [-1]  # scope id -> enclosing scope id (the module, 0, has none)
        self.kinds: list[str] = [MODULE]
        self.bindings: dict[str, list[Binding]] = {}
        self.uses: dict[str, list[Use]] = {}
        self.string_uses: dict[str, set[int]] = {}
        self.opaque: set[str] = set()  # names bound or unbound out of order: del, global, nonlocal
        self.guarded = 0  # depth of try bodies around the current node
        self.star_import = False
        self.risky: set[int] = set()

    def binds_at(self, n: int) -> list[set[str]]:
        found: list[set[str]] = [set() for _ in range(n)]
        for name, bindings in self.bindings.items():
            for b in bindings:
                found[b.line].add(name)
        return found

    def bind(self, name: str, lineno: int, covers: bool = True) -> None:
        line = lineno - 1
        self.bindings.setdefault(name, []).append(Binding(line, self.statement_end[line], self.scope, covers))

    def use(self, name: str, lineno: int) -> None:
        self.uses.setdefault(name, []).append(Use(lineno - 1, self.scope, self.guarded > 0))

    def visit_Try(self, node) -> None:
        self.guarded += 1
        for statement in node.body:
            self.visit(statement)
        self.guarded -= 1
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    visit_TryStar = visit_Try

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.use(node.id, node.lineno)
        elif isinstance(node.ctx, ast.Del):  # reads the name, then unbinds it: beyond this analysis
            self.use(node.id, node.lineno)
            self.opaque.add(node.id)
            self.risky.add(node.lineno - 1)
        else:
            self.bind(node.id, node.lineno)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.use(node.target.id, node.target.lineno)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None and isinstance(node.target, ast.Name):  # a bare annotation binds nothing
            self.bind(node.target.id, node.target.lineno, covers=False)
            self.visit(node.annotation)
            return
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _ANNOTATION_LIKE.fullmatch(node.value):
            for name in _IDENTIFIER.findall(node.value):
                self.string_uses.setdefault(name, set()).add(node.lineno - 1)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        self.risky.add(node.lineno - 1)
        self.opaque.update(node.names)  # pyflakes counts the declaration itself as a binding

    visit_Nonlocal = visit_Global

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":  # undefined names become warnings wherever a star import is in scope
                self.risky.add(node.lineno - 1)
                self.star_import = True
                continue
            self.bind(alias.asname or alias.name.split(".")[0], getattr(alias, "lineno", node.lineno))

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:  # unbound again when the handler ends
            self.bind(node.name, node.lineno, covers=False)
        for statement in node.body:
            self.visit(statement)

    def _enter(self, kind: str):
        outer = self.scope
        self.scopes += 1
        self.scope = self.scopes
        self.parents.append(outer)
        self.kinds.append(kind)
        return outer

    def _arguments(self, args: ast.arguments) -> None:
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                self.bind(arg.arg, arg.lineno)

    def _function(self, node) -> None:
        for expression in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults, node.returns]:
            if expression is not None:
                self.visit(expression)
        for arg in [
            *node.args.posonlyargs,
            *node.args.args,
            *node.args.kwonlyargs,
            node.args.vararg,
            node.args.kwarg,
        ]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)
        self.bind(node.name, node.lineno)
        outer = self._enter(FUNCTION)
        self._arguments(node.args)
        for statement in node.body:
            self.visit(statement)
        self.scope = outer

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in [*node.args.defaults, *node.args.kw_defaults]:
            if expression is not None:
                self.visit(expression)
        outer = self._enter(FUNCTION)
        self._arguments(node.args)
        self.visit(node.body)
        self.scope = outer

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expression)
        self.bind(node.name, node.lineno)
        outer = self._enter(CLASS)
        for statement in node.body:
            self.visit(statement)
        self.scope = outer

    def _comprehension(self, node) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        outer = self._enter(COMPREHENSION)
        for k, generator in enumerate(node.generators):
            self.visit(generator.target)
            if k:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            if getattr(node, part, None) is not None:
                self.visit(getattr(node, part))
        self.scope = outer

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.risky.add(node.lineno - 1)  # binds in the enclosing function even inside a comprehension
        self.generic_visit(node)

    def visit_MatchAs(self, node) -> None:
        if node.name:
            self.bind(node.name, node.lineno)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node) -> None:
        if node.rest:
            self.bind(node.rest, node.lineno)
        self.generic_visit(node)


def _logical_lines(text: str, n: int) -> tuple[list[int], list[bool]]:
    """For each line: the first line of the statement it belongs to, and whether it lies inside a multi-line string
    (after the string's first line)."""
    starts = list(range(n))
    string_inner = [False] * n
    start = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            row, end_row = tok.start[0] - 1, tok.end[0] - 1
            if tok.type in (tokenize.NL, tokenize.COMMENT) and start is None:
                continue
            if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if start is None:
                start = row
            for r in range(row, min(end_row, n - 1) + 1):
                starts[r] = start
            if tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_MIDDLE", None) == tok.type:
                for r in range(row + 1, min(end_row, n - 1) + 1):
                    string_inner[r] = True
            if tok.type == tokenize.NEWLINE:
                start = None
    except (tokenize.TokenError, SyntaxError):  # the parser accepted it; tokenize quirks only cost precision
        pass
    return starts, string_inner


def _indents(lines: Sequence[str], string_inner: Sequence[bool]) -> list[int]:
    """Indentation used for the block rule. String contents and closing-bracket lines take the indentation of the
    line above, so they are deleted with it; blank and comment lines take the deeper of the code lines around
    them, so that a blank line after ``def f():`` or a comment at column 0 inside a body does not end the block."""
    own: list[int | None] = []
    for line, inner in zip(lines, string_inner, strict=True):
        stripped = line.lstrip()
        if inner or not stripped or stripped.startswith((*_CLOSERS, "#")):
            own.append(None)
        else:
            own.append(len(line.expandtabs()) - len(stripped))
    indents = [0] * len(lines)
    previous = 0
    for i, value in enumerate(own):
        if value is not None:
            previous = value
        indents[i] = previous
    following = 0
    for i in range(len(lines) - 1, -1, -1):
        if own[i] is not None:
            following = own[i]
        elif not string_inner[i] and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
            indents[i] = max(indents[i], following)
    return indents
