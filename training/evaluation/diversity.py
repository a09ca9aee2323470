"""Diversity of a problem's samples: distinct programs / n and distinct normalised ASTs / n.

Two programs have the same *normalised AST* when they differ only in formatting, comments, docstrings and the names
of local variables, arguments and functions; a program that does not parse counts by its stripped text.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Diversity:
    n: int
    distinct_programs: float
    distinct_asts: float


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the program itself binds (assignments, loop targets, arguments, functions); builtins stay as they are."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
    return bound


class _Renamer(ast.NodeTransformer):
    """Rename bound identifiers by order of first appearance; drop docstrings and annotations."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def _function(self, node):
        node.name = self._name(node.name)
        node.returns = None
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
        ):
            if isinstance(body[0].value.value, str) and len(body) > 1:
                node.body = body[1:]
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _function


def normalised_ast(program: str) -> str:
    """A canonical dump of the program's AST (see the module docstring), or its stripped text if it does not parse."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return "unparsed:" + program.strip()
    return ast.dump(_Renamer(_bound_names(tree)).visit(tree), annotate_fields=False)


def diversity(programs: Sequence[str]) -> Diversity:
    """Fractions of distinct programs (by stripped text) and of distinct normalised ASTs among ``programs``."""
    n = len(programs)
    if n == 0:
        return Diversity(0, 0.0, 0.0)
    texts = {p.strip() for p in programs}
    trees = {normalised_ast(p) for p in programs}
    return Diversity(n, len(texts) / n, len(trees) / n)
