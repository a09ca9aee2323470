"""No two project modules import each other, directly or through others, at module level or inside functions.

A cycle makes the import order matter and hides which layer owns what (``lsp_server -> model_runtime <- training``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx  # a dependency of torch

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lsp_server", "model_runtime", "training")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_no_module_imports_itself_back():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert cycles == []


def test_the_layers_import_one_way():
    graph = import_graph()
    wrong = [
        (a, b) for a, b in graph.edges if a.startswith("model_runtime") and not b.startswith("model_runtime")
    ]
    wrong += [
        (a, b) for a, b in graph.edges if {a.split(".")[0], b.split(".")[0]} == {"lsp_server", "training"}
    ]
    assert wrong == []


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert graph.has_edge("training.datagen", "training.scale")  # imported inside _outcomes
