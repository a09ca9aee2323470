"""Imports a completion needs but did not write, the way an editor's auto-import adds them.

A model that completes a function from the cursor on cannot write above the function, so an answer that calls
``hashlib.md5`` in a file that never imports ``hashlib`` is rejected by the pyflakes check although its code is
right. When a name that the *added* lines use is undefined and unambiguous, the import that defines it is added as
one more line of the completion (so it becomes one more insertion step, checked like the others):

- a common standard-library module used as a module, every attribute used existing in it (``hashlib.md5(...)``):
  ``import hashlib`` (``string.split()`` on an undefined variable ``string`` stays an error);
- a public name of ``typing`` written capitalised (``Tuple[int, int]``): ``from typing import Tuple``;
- a few names that are almost always the standard library's (``defaultdict``, ``Counter``, ``reduce``, ...), used
  as the name of a call or a subscript: ``from collections import defaultdict``.

Nothing else is guessed: a third-party module may not be installed, and a bare undefined name is more often a typo
or a missing variable than a missing import.
"""

from __future__ import annotations

import ast
import importlib
import re
import typing
from collections.abc import Sequence

from model_runtime import lint

WELL_KNOWN = {
    "defaultdict": "collections",
    "Counter": "collections",
    "deque": "collections",
    "OrderedDict": "collections",
    "namedtuple": "collections",
    "reduce": "functools",
    "lru_cache": "functools",
    "cmp_to_key": "functools",
    "permutations": "itertools",
    "combinations": "itertools",
    "accumulate": "itertools",
    "dataclass": "dataclasses",
}
_NAME = re.compile(r"undefined name '([^']+)'")
# Modules safe to import here to check an attribute, and common in completions.
MODULES = frozenset(
    "abc array base64 binascii bisect calendar cmath collections contextlib copy csv dataclasses datetime decimal "
    "enum fnmatch fractions functools glob hashlib heapq io itertools json logging math numbers operator os pathlib "
    "random re secrets shutil statistics string struct sys textwrap time typing unicodedata uuid zlib".split()
)
_TYPING = frozenset(name for name in typing.__all__ if name[:1].isupper())


def import_for(name: str, uses: set[str], attributes: set[str] = frozenset()) -> str | None:
    """The import line that defines ``name``, given how the code uses it (``uses``: "attribute", "call",
    "subscript", "decorator", "name"; ``attributes``: the attributes read from it); None when it would be a guess."""
    if name in MODULES and "attribute" in uses:
        module = importlib.import_module(name)
        return f"import {name}" if all(hasattr(module, attr) for attr in attributes) else None
    if name in WELL_KNOWN and uses & {"call", "decorator"}:
        return f"from {WELL_KNOWN[name]} import {name}"
    if name in _TYPING and ("subscript" in uses or uses == {"name"}):
        return f"from typing import {name}"
    return None


def with_imports(final: str, added: Sequence[bool]) -> tuple[str, list[bool]]:
    """``final`` (a buffer after an insertion; ``added`` marks its new lines) with the imports its new lines need
    inserted after the module's last top-level import (or its docstring), marked as added too."""
    added = list(added)
    wanted = _undefined_on_added_lines(final, added)
    if not wanted:
        return final, added
    tree = lint.parse_or_none(final)
    if tree is None:
        return final, added
    uses, attributes = _uses(tree)
    imports = sorted(
        {line for name in wanted if (line := import_for(name, uses.get(name, set()), attributes.get(name, set())))}
    )
    if not imports:
        return final, added
    lines = final.split("\n")
    at = _import_line(tree)
    return "\n".join([*lines[:at], *imports, *lines[at:]]), [*added[:at], *[True] * len(imports), *added[at:]]


def _undefined_on_added_lines(final: str, added: Sequence[bool]) -> set[str]:
    names = set()
    for error in lint.errors(final):
        match = _NAME.search(error.message) if error.kind == "UndefinedName" else None
        if match and 0 < error.line <= len(added) and added[error.line - 1]:
            names.add(match.group(1))
    return names


def _uses(tree: ast.Module) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For each bare name, how the code uses it (as a module: "attribute", called, subscripted, as a decorator, else
    "name"), and the attributes read from it."""
    uses: dict[str, set[str]] = {}
    attributes: dict[str, set[str]] = {}

    def note(node: ast.AST, how: str) -> None:
        if isinstance(node, ast.Name):
            uses.setdefault(node.id, set()).add(how)

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            note(node.value, "attribute")
            if isinstance(node.value, ast.Name):
                attributes.setdefault(node.value.id, set()).add(node.attr)
        elif isinstance(node, ast.Call):
            note(node.func, "call")
        elif isinstance(node, ast.Subscript):
            note(node.value, "subscript")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                note(decorator, "decorator")
        elif isinstance(node, ast.Name):
            uses.setdefault(node.id, set())
    for name, how in uses.items():
        if not how:
            how.add("name")
    return uses, attributes


def _import_line(tree: ast.Module) -> int:
    """The 0-based line where a new top-level import goes: after the last top-level import, else after the module
    docstring, else at the top."""
    body = tree.body
    imports = [node for node in body if isinstance(node, ast.Import | ast.ImportFrom)]
    if imports:
        return imports[-1].end_lineno or imports[-1].lineno
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno or first.lineno
    return 0
