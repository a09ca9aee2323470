"""``prepare``: analyse a program once for the LintSeq sampler into a ``Program`` (lines, dependencies, weights).

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

The def-use facts that let ``Program.judge`` skip the linter come from ``training.lintseq_defuse``; ``Program``
itself lives in ``training.lintseq_program``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Sequence

from model_runtime import lint
from model_runtime.edits import normalise
from training.lintseq_defuse import DefUse
from training.lintseq_program import Clauses, Program

_CLOSERS = (")", "]", "}")
_ELSE = re.compile(r"\s*else\s*:")
_FINALLY = re.compile(r"\s*finally\s*:")
_DECORATED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TRY_NODES = tuple(getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name))


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

    facts = DefUse([max(s) for s in statement])
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


def _keyword_line(lines: Sequence[str], before: ast.AST, after: ast.AST, keyword: re.Pattern) -> list[int]:
    """The line between two statements that opens a clause (``else:``/``finally:``), found by its keyword."""
    first = min([after.lineno, *(d.lineno for d in getattr(after, "decorator_list", []))]) - 1
    for j in range(before.end_lineno, first + 1):
        if keyword.match(lines[j]):
            return [j]
    return []


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
