"""Self-contained functions: training programs that look like the task (a HumanEval-style function on its own).

A library function full of names defined elsewhere in its module teaches a model to call what it cannot see. A
function is *self-contained* when the function alone, with only the module's imports that it uses put above it, is
pyflakes-clean: no undefined name, so no reliance on module globals, helpers or ``self`` state. Methods (a first
parameter ``self`` or ``cls``) and functions nested in classes or other functions are not; nor is a function that
declares ``global`` or ``nonlocal`` names, or one that needs a private name of another module.

``self_contained_program(module_text, qualname, program)`` returns the program with its imports (the function's own
text unchanged below them), or None with the reason counted by the caller.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from model_runtime import lint

NESTED = "nested or a method"
UNDEFINED = "uses names from its module"
UNCLEAN = "not pyflakes-clean on its own"
PRIVATE = "imports a private name"


def module_imports(tree: ast.Module) -> list[tuple[str, str]]:
    """``(bound name, import line)`` for each name the module's top-level imports bind (one line per name)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                found.append((bound, line))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
            for alias in node.names:
                if alias.name == "*":
                    continue
                bound = alias.asname or alias.name
                line = f"from {node.module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
                found.append((bound, line))
    return found


def self_contained_program(
    imports: Sequence[tuple[str, str]], qualname: str, program: str
) -> tuple[str | None, str]:
    """(the program with the imports it uses above it, or None; the reason when None)."""
    if "." in qualname:
        return None, NESTED
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return None, UNCLEAN
    function = tree.body[0] if tree.body else None
    if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        return None, UNCLEAN
    arguments = function.args.posonlyargs + function.args.args
    if arguments and arguments[0].arg in ("self", "cls"):
        return None, NESTED
    if any(isinstance(node, ast.Global | ast.Nonlocal) for node in ast.walk(function)):
        return None, UNDEFINED
    used = {node.id for node in ast.walk(function) if isinstance(node, ast.Name)}
    lines = list(dict.fromkeys(line for bound, line in imports if bound in used))
    if any(line.split(" import ")[-1].startswith("_") for line in lines):
        return None, PRIVATE
    text = ("\n".join(lines) + "\n\n\n" if lines else "") + program + "\n"
    errors = lint.errors(text)
    if any(error.kind == "UndefinedName" for error in errors):
        return None, UNDEFINED
    if errors:
        return None, UNCLEAN
    return text.rstrip("\n"), ""
