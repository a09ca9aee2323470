"""Where a project defines its names: the index the import quick fix reads for a project's own imports.

For every Python file of a workspace, the names it defines at top level (classes, functions and ALL_CAPS
constants) and the module it is (``pkg/sub/mod.py`` -> ``pkg.sub.mod``). ``import_line(name, uses)`` answers
``from pkg.sub.mod import name`` when exactly one module defines ``name``, and ``from pkg.sub import mod`` for a
module used as one (``mod.attr``) when exactly one package holds it; an ambiguous name gets nothing.

``DirectoryIndex`` keeps the index of a directory on disk fresh by modification time (only changed files are read
again), for the language server; ``index_sources`` indexes (path, text) pairs, for a repository's files at a commit.
Both answer ``current()``, which the quick fix calls only when a name is left unresolved by the standard library.
"""

from __future__ import annotations

import ast
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILES = 5000
RESCAN_S = 5.0  # a workspace walked at most this often (a suggestion per keystroke would walk it each time)
MAX_BYTES = 1_000_000  # larger files are generated or data: not indexed
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "build", "dist", "venv"})
_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*$")


def module_name(path: str) -> str | None:
    """The dotted module a relative ``.py`` path is (None for a name that cannot be imported)."""
    parts = Path(path).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(part.isidentifier() for part in parts) else None


def defined_names(text: str) -> set[str]:
    """The names a module defines at top level that another module would import: classes, functions, constants."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name) and _CONSTANT.match(t.id))
    return names


@dataclass
class SymbolIndex:
    """name -> the modules defining it; module's last part -> its dotted names."""

    names: dict[str, set[str]] = field(default_factory=dict)
    modules: dict[str, set[str]] = field(default_factory=dict)
    defines: dict[str, set[str]] = field(default_factory=dict)  # module -> its names

    def current(self) -> SymbolIndex:
        """The index itself (a ``DirectoryIndex`` answers the same call with a fresh one)."""
        return self

    def import_line(
        self, name: str, uses: set[str], attributes: set[str] = frozenset(), exclude: str | None = None
    ) -> str | None:
        """The import of ``name`` from the one module defining it (not ``exclude``, the buffer's own), or of the one
        module called ``name`` when the code uses it only as a module and every attribute it reads (``attributes``)
        is defined there; None when none or several qualify, and for a private name."""
        if name.startswith("_"):
            return None
        defining = self.names.get(name, set()) - {exclude}
        if len(defining) == 1:
            return f"from {next(iter(defining))} import {name}"
        holding = {m for m in self.modules.get(name, set()) if "." in m} - {exclude}
        if uses == {"attribute"} and attributes and len(holding) == 1:
            (dotted,) = holding
            if attributes <= self.defines.get(dotted, set()):
                package, _, module = dotted.rpartition(".")
                return f"from {package} import {module}"
        return None


def index_sources(sources: Iterable[tuple[str, str]]) -> SymbolIndex:
    """The index of (relative path, text) pairs."""
    return _indexed([(path, defined_names(text)) for path, text in sources])


def _indexed(files: list[tuple[str, Iterable[str]]]) -> SymbolIndex:
    """The index of (relative path, names) pairs; only files importable as a module count: those at the top, and
    those in packages (every folder above them holds an ``__init__.py``), not scripts in a plain folder."""
    packages = {str(Path(path).parent) for path, _ in files if Path(path).name == "__init__.py"}
    index = SymbolIndex()
    for path, names in files:
        folders = Path(path).parents[:-1]  # without "."
        module = module_name(path)
        if module is None or any(str(folder) not in packages for folder in folders):
            continue
        index.modules.setdefault(module.rpartition(".")[2], set()).add(module)
        index.defines[module] = set(names)
        for name in names:
            index.names.setdefault(name, set()).add(module)
    return index


class DirectoryIndex:
    """The index of the ``.py`` files under ``root`` (hidden and build directories skipped, at most ``MAX_FILES``),
    walked again at most every ``rescan_s`` seconds and then read again only where a file changed. Thread-safe."""

    def __init__(self, root: str | os.PathLike[str], rescan_s: float = RESCAN_S) -> None:
        self.root = Path(root)
        self.rescan_s = rescan_s
        self._files: dict[str, tuple[float, frozenset[str]]] = {}
        self._index: SymbolIndex | None = None
        self._scanned = 0.0
        self._lock = threading.Lock()

    def module_of(self, path: str | os.PathLike[str]) -> str | None:
        """The module a file under the root is (None outside it)."""
        try:
            return module_name(Path(path).resolve().relative_to(self.root.resolve()).as_posix())
        except ValueError:
            return None

    def current(self) -> SymbolIndex:
        """The index, the directory walked again when the last walk is more than ``rescan_s`` old."""
        with self._lock:
            if self._index is not None and time.monotonic() - self._scanned < self.rescan_s:
                return self._index
            seen = {}
            for path in self._python_files():
                relative = path.relative_to(self.root).as_posix()
                try:
                    stat = path.stat()
                except OSError:
                    continue
                known = self._files.get(relative)
                if known is None or known[0] != stat.st_mtime:
                    known = (stat.st_mtime, frozenset(_read_names(path, stat.st_size)))
                seen[relative] = known
            self._files = seen
            self._index = _indexed([(relative, names) for relative, (_, names) in seen.items()])
            self._scanned = time.monotonic()
            return self._index

    def _python_files(self) -> Iterable[Path]:
        count = 0
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
            for name in sorted(files):
                if name.endswith(".py"):
                    count += 1
                    if count > MAX_FILES:
                        return
                    yield Path(folder) / name


def _read_names(path: Path, size: int) -> set[str]:
    if size > MAX_BYTES:
        return set()
    try:
        return defined_names(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return set()


def project_root(path: str | os.PathLike[str]) -> Path | None:
    """The nearest folder above ``path`` that holds ``.git`` or ``pyproject.toml`` (the workspace a command-line
    suggestion for that file sees), or None."""
    for folder in Path(path).resolve().parents:
        if (folder / ".git").exists() or (folder / "pyproject.toml").is_file():
            return folder
    return None
