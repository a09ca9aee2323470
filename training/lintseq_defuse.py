"""The def-use facts of a program for ``training.lintseq_program.Program``: which names each line binds and reads,
in which scope (``DefUse``, an AST visitor)."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from training.lintseq_program import CLASS, COMPREHENSION, FUNCTION, MODULE, Binding, Use

_ANNOTATION_LIKE = re.compile(r"[\w.\[\], |'\"]{1,120}")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class DefUse(ast.NodeVisitor):
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
