"""Imports a completion needs but did not write, the way an editor's auto-import adds them.

A model that completes a function from the cursor on cannot write above the function, so an answer that calls
``hashlib.md5`` in a file that never imports ``hashlib`` is rejected by the pyflakes check although its code is
right. When a name that the *added* lines use is undefined and unambiguous, the import that defines it is added as
one more line of the completion (so it becomes one more insertion step, checked like the others):

- a common standard-library module used as a module, every attribute used existing in it (``hashlib.md5(...)``):
  ``import hashlib`` (``string.split()`` on an undefined variable ``string`` stays an error);
- a public name of ``typing`` written capitalised (``Tuple[int, int]``): ``from typing import Tuple``, or from
  ``collections.abc`` for its abstract classes (``Iterator``) unless the module takes such names from ``typing``;
- a few names that are almost always the standard library's (``defaultdict``, ``Counter``, ``reduce``, ...), used
  as the name of a call or a decorator: ``from collections import defaultdict``;
- with the workspace's symbol index (``workspace_symbols``), a name that exactly one of the project's own modules
  defines: ``from pkg.mod import Name``.

Nothing else is guessed: a third-party module may not be installed, and a bare undefined name is more often a typo
or a missing variable than a missing import.
"""

from __future__ import annotations

import ast
import collections.abc
import importlib
import re
import sys
import typing
from collections.abc import Sequence
from typing import Protocol

from model_runtime import lint
from model_runtime.workspace_symbols import SymbolIndex


class Symbols(Protocol):
    """A workspace's symbol index, or what makes a fresh one (``workspace_symbols``)."""

    def current(self) -> SymbolIndex: ...


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
    "pairwise": "itertools",
    "combinations": "itertools",
    "accumulate": "itertools",
    "dataclass": "dataclasses",
}
_NAME = re.compile(r"undefined name '([^']+)'")
# Modules safe to import here to check an attribute, and common in completions.
MODULES = frozenset(
    "abc argparse array ast atexit base64 binascii bisect calendar cmath codecs collections contextlib copy csv "
    "dataclasses datetime decimal difflib enum errno fnmatch fractions functools gc glob gzip hashlib heapq hmac html "
    "inspect io itertools json keyword locale logging math numbers operator os pathlib pickle platform pprint queue "
    "random re secrets shlex shutil signal socket sqlite3 statistics string struct subprocess sys tarfile tempfile "
    "textwrap threading time timeit tokenize traceback types typing unicodedata uuid warnings weakref zipfile zlib".split()
)
_STANDARD = frozenset(sys.stdlib_module_names)
_TYPING = frozenset(name for name in typing.__all__ if name[:1].isupper())
_ABC = frozenset(collections.abc.__all__)


def import_for(
    name: str, uses: set[str], attributes: set[str] = frozenset(), *, abc: bool = True
) -> str | None:
    """The import line that defines ``name``, given how the code uses it (``uses``: "attribute", "call",
    "subscript", "decorator", "name"; ``attributes``: the attributes read from it); None when it would be a guess.
    ``abc``: take ``Iterator``, ``Sequence`` and the like from ``collections.abc`` rather than ``typing``."""
    if name in MODULES and "attribute" in uses:
        module = importlib.import_module(name)
        return f"import {name}" if all(hasattr(module, attr) for attr in attributes) else None
    if name in WELL_KNOWN and uses & {"call", "decorator"}:
        return f"from {WELL_KNOWN[name]} import {name}"
    if name in _TYPING and ("subscript" in uses or uses == {"name"}):
        return f"from {'collections.abc' if abc and name in _ABC else 'typing'} import {name}"
    return None


def with_imports(
    final: str,
    added: Sequence[bool],
    errors: Sequence[lint.LintError] | None = None,
    *,
    symbols: Symbols | None = None,
    module: str | None = None,
) -> tuple[str, list[bool]]:
    """``final`` (a buffer after an insertion; ``added`` marks its new lines) with the imports its new lines need,
    each inserted in order among its peers (``_place``), marked as added too. ``errors``: ``final``'s pyflakes
    errors when the caller has them. ``symbols``: the workspace's index (``current()`` is called only when the
    standard library leaves a name unresolved), for names the project itself defines (``module``: the buffer's own
    module, never imported from)."""
    added = list(added)
    wanted = _undefined_on(added, lint.errors(final) if errors is None else errors)
    tree = lint.parse_or_none(final) if wanted else None
    if tree is None:
        return final, added
    uses, attributes = _uses(tree)
    # the module's own habit: typing's aliases where it imports from typing and not from collections.abc
    modules = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    abc = "collections.abc" in modules or "typing" not in modules
    imports = set()
    for name in sorted(wanted):
        how = uses.get(name, set())
        line = import_for(name, how, attributes.get(name, set()), abc=abc)
        if line is None and symbols is not None:
            line = symbols.current().import_line(name, how, attributes.get(name, set()), exclude=module)
        if line is not None:
            imports.add(line)
    lines = final.split("\n")
    placed = sorted(((_place(tree, line), _sort_key(line), line) for line in _grouped(imports)), reverse=True)
    for at, _, line in placed:  # bottom up, so that the positions above stay right
        lines.insert(at, line)
        added.insert(at, True)
    return "\n".join(lines), added


def import_fix(
    buffer: str,
    errors: Sequence[lint.LintError] | None = None,
    *,
    symbols: Symbols | None = None,
    module: str | None = None,
) -> str | None:
    """The buffer with the imports its own undefined names need, or None when none is known (a quick fix offered
    beside the model's suggestions: the user has just written ``contextlib.suppress`` without the import)."""
    every = [True] * (buffer.count("\n") + 1)
    fixed, _ = with_imports(buffer, every, errors, symbols=symbols, module=module)
    return fixed if fixed != buffer else None


def _undefined_on(added: Sequence[bool], errors: Sequence[lint.LintError]) -> set[str]:
    """The undefined names that ``errors`` report on lines marked in ``added``."""
    names = set()
    for error in errors:
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
    for how in uses.values():
        if not how:
            how.add("name")
    return uses, attributes


def _grouped(imports: set[str]) -> list[str]:
    """``from m import a`` and ``from m import b`` as one ``from m import a, b`` (names in isort's order:
    constants, classes, then the rest)."""
    names: dict[str, set[str]] = {}
    plain = []
    for line in imports:
        words = line.split()
        if words[0] == "from":
            names.setdefault(words[1], set()).add(words[3])
        else:
            plain.append(line)
    return [*plain, *(f"from {m} import {', '.join(sorted(ns, key=_name_order))}" for m, ns in names.items())]


def _name_order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2), name


def _sort_key(line: str) -> tuple[bool, str]:
    """isort's order within a section: ``import x`` lines first, then ``from x import y``, each by module."""
    words = line.split()
    return words[0] == "from", words[1].lower()


def _place(tree: ast.Module, line: str) -> int:
    """The 0-based line where the import ``line`` goes: in order among its peers among the module's top-level
    imports (the standard library's, or those of the same top-level package); without any, a standard-library
    import goes before the first import (after ``__future__``), another after the last; with no import at all,
    after the docstring, else first."""
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    future = [node for node in imports if isinstance(node, ast.ImportFrom) and node.module == "__future__"]
    root = line.split()[1].split(".")[0]
    standard = root in _STANDARD
    peers = [
        node
        for node in imports
        if node not in future and (_root(node) in _STANDARD if standard else _root(node) == root)
    ]
    if peers:
        later = [node for node in peers if _sort_key(ast.unparse(node)) > _sort_key(line)]
        return later[0].lineno - 1 if later else _end(peers[-1])
    rest = [node for node in imports if node not in future]
    if rest:
        return rest[0].lineno - 1 if standard else _end(rest[-1])
    if future:
        return _end(future[-1])
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return _end(first)
    return 0


def _root(node: ast.Import | ast.ImportFrom) -> str:
    """The top-level package an import reads from (a relative import: "")."""
    module = node.names[0].name if isinstance(node, ast.Import) else node.module or ""
    return "" if getattr(node, "level", 0) else module.split(".")[0]


def _end(node: ast.stmt) -> int:
    return node.end_lineno or node.lineno
