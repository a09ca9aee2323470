"""Real programs for tests and benchmarks, taken deterministically from this interpreter's standard library.

Functions (methods included) are cut out of their module and dedented; whole files are the smallest modules. The
choice depends only on the standard library's contents, so a run is reproducible on one Python version.
"""

from __future__ import annotations

import ast
import functools
import sysconfig
import textwrap
import warnings
from pathlib import Path

# The ten functions the LintSeq speed comparison names (issue 2), as module path + qualified name.
BENCHMARK_FUNCTIONS = (
    "heapq._siftdown",
    "optparse._parse_num",
    "functools.cmp_to_key",
    "colorsys.hsv_to_rgb",
    "doctest._strip_exception_details",
    "_pydecimal._normalize",
    "uuid._get_command_stdout",
    "nturl2path.url2pathname",
    "gettext._expand_lang",
    "warnings._formatwarnmsg_impl",
)

_SKIP_PARTS = frozenset({"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "__phello__"})


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@functools.lru_cache(maxsize=1)
def stdlib_files() -> tuple[Path, ...]:
    """Standard-library source files outside tests and vendored tools, sorted by relative path."""
    root = stdlib_root()
    files = [p for p in root.rglob("*.py") if not _SKIP_PARTS.intersection(p.relative_to(root).parts[:-1])]
    return tuple(sorted(files, key=lambda p: p.relative_to(root).as_posix()))


def _parse(text: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):
            return None


def _functions(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
        if isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def _cut(lines: list[str], node: ast.AST) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return textwrap.dedent("".join(lines[first - 1 : node.end_lineno]))


@functools.cache
def _module_functions(path: Path) -> tuple[tuple[str, str], ...]:
    text = path.read_text(encoding="utf-8", errors="replace")
    tree = _parse(text)
    if tree is None:
        return ()
    lines = text.splitlines(keepends=True)
    found = []
    for name, node in _functions(tree):
        source = _cut(lines, node)
        if _parse(source) is not None:  # dedent can fail on strings that are less indented than the code
            found.append((name, source))
    return tuple(found)


def named_function(dotted: str) -> str:
    """Source of a standard-library function given as ``module.qualname`` (``heapq._siftdown``)."""
    module, _, name = dotted.partition(".")
    path = stdlib_root() / f"{module}.py"
    for qualname, source in _module_functions(path):
        if qualname == name:
            return source
    raise KeyError(dotted)


def stdlib_functions(count: int, *, min_lines: int = 3, max_lines: int = 60) -> list[tuple[str, str]]:
    """``count`` functions of ``min_lines``..``max_lines`` lines, spread evenly over the whole standard library.

    Returns (``relative/path.py:qualname``, source) pairs.
    """
    root = stdlib_root()
    pool = [
        (f"{path.relative_to(root).as_posix()}:{name}", source)
        for path in stdlib_files()
        for name, source in _module_functions(path)
        if min_lines <= source.count("\n") <= max_lines
    ]
    if len(pool) < count:
        raise ValueError(f"only {len(pool)} functions of {min_lines}-{max_lines} lines; asked for {count}")
    step = len(pool) / count
    return [pool[int(k * step)] for k in range(count)]


def stdlib_modules(count: int, *, max_lines: int = 150) -> list[tuple[str, str]]:
    """The ``count`` smallest whole standard-library files (non-trivial, at most ``max_lines`` lines) that parse."""
    root = stdlib_root()
    found = []
    for path in stdlib_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        n = text.count("\n")
        if 10 <= n <= max_lines and _parse(text) is not None:
            found.append((n, path.relative_to(root).as_posix(), text))
    found.sort()
    if len(found) < count:
        raise ValueError(f"only {len(found)} files of at most {max_lines} lines; asked for {count}")
    return [(name, text) for _, name, text in found[:count]]
