"""The workspace a next-edit case from history sees: the symbol index of the repository's Python files at a commit.

The import quick fix (``model_runtime.auto_import``) resolves a project's own names through the workspace's
symbol index. A case from history is given the repository as it stood: at the parent commit for the ``plain``
variant (the file before the commit, every other file before it too), at the commit itself for ``replay`` (the
commit's other hunks applied: its changes to other files are made as well; the case's own file is the buffer and is
never imported from). The files are read with one ``git cat-file --batch`` per commit, and indexes are kept for the
last few commits.
"""

from __future__ import annotations

import functools
from pathlib import Path

from model_runtime.workspace_symbols import SymbolIndex, index_sources, module_name
from training.evaluation.git_history import GitCase, run_git


def case_symbols(repo: Path, case: GitCase, variant: str) -> dict:
    """What ``suggest`` is given for ``case`` in ``variant``: the index at the parent commit (``plain``) or the
    commit (``replay``), and the case's own module."""
    commit = case.commit if variant == "replay" else f"{case.commit}^"
    return {"symbols": symbols_at(repo.resolve(), commit), "module": module_name(case.path)}


@functools.lru_cache(maxsize=4)
def symbols_at(repo: Path, commit: str) -> SymbolIndex:
    """The symbol index of the ``.py`` files of ``repo`` at ``commit``."""
    listing = run_git(repo, "ls-tree", "-r", "-z", commit).split(b"\0")
    blobs = []  # (path, object id) of each .py blob
    for entry in listing:
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        kind, oid = meta.split()[1:3]
        if kind == b"blob" and path.endswith(b".py"):
            blobs.append((path.decode("utf-8", "replace"), oid.decode()))
    batch = run_git(repo, "cat-file", "--batch", stdin="\n".join(oid for _, oid in blobs).encode() + b"\n")
    sources = []
    at = 0
    for path, _ in blobs:
        header_end = batch.index(b"\n", at)
        size = int(batch[at:header_end].split()[2])
        body = batch[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1  # the body is followed by a newline
        try:
            sources.append((path, body.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return index_sources(sources)
