"""Next-edit cases from a repository's git history: code a commit inserted, to be suggested from the file before it.

A *case* is one hunk of a commit (first parent, no merges) that purely inserts 1 to ``MAX_INSERTED`` lines into a
``.py`` file and changes its code: the file's AST, docstrings left out, differs after the insertion, and at least
one inserted line starts a token that is neither a comment nor a string. The buffer is the file at the parent
commit (which must parse), the cursor the 0-based line the lines go before, the truth the inserted lines.

When the commit changed the file elsewhere too, the case also carries a *replay* view: those other hunks applied to
the buffer first (the cursor shifted by what they added above it), and each one's change as a Diff History edit
(``model_runtime.edits.diff_states``), the farthest from the insertion point first, so that a history cut to its
last few edits keeps the nearest. Git plumbing runs in a subprocess; everything after reading the texts is pure.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from model_runtime.edits import diff_states

MAX_INSERTED = 12
MAX_FILE_LINES = 2_000
VARIANTS = ("plain", "replay")

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
# Tokens that do not make an inserted line code.
_NOT_CODE = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
    tokenize.STRING,
}


@dataclass(frozen=True)
class DiffHunk:
    """One hunk of a zero-context diff: replace ``removed`` old lines from 0-based ``start`` with ``added``."""

    start: (
        int  # 0-based old line where the change begins (for a pure insertion: the line the lines go before)
    )
    removed: int
    added: tuple[str, ...]

    @property
    def is_insertion(self) -> bool:
        return self.removed == 0


@dataclass(frozen=True)
class GitCase:
    """One block a commit inserted, with the buffer before it (plain) and after the commit's other hunks (replay)."""

    commit: str
    path: str
    buffer: str  # the file at the parent commit
    cursor: int  # 0-based line of ``buffer`` the truth goes before
    truth: tuple[str, ...]
    replay_buffer: str
    replay_cursor: int
    history: tuple[
        str, ...
    ]  # the other hunks as Diff History edits, leading from ``buffer`` to ``replay_buffer``

    @property
    def key(self) -> str:
        return f"{self.commit[:12]}:{self.path}:{self.cursor}"

    @property
    def has_history(self) -> bool:
        return bool(self.history)

    def view(self, variant: str) -> tuple[str, int, tuple[str, ...]]:
        """``(buffer, cursor, recent edits)`` the model is given in ``variant`` (``plain`` or ``replay``)."""
        if variant == "plain":
            return self.buffer, self.cursor, ()
        if variant == "replay":
            return self.replay_buffer, self.replay_cursor, self.history
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")


@dataclass
class BuildStats:
    """What the case builder looked at and why it left things out."""

    commits: int = 0
    files: int = 0
    hunks: int = 0
    insertions: int = 0  # pure insertion hunks of 1..MAX_INSERTED lines
    cases: int = 0
    with_history: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count (files or hunks)


def parse_hunks(patch: str) -> list[DiffHunk]:
    """The hunks of a zero-context unified diff of one file, in order (``git diff --unified=0`` output)."""
    hunks: list[DiffHunk] = []
    added: list[str] | None = None
    start = removed = 0
    for row in patch.split("\n"):
        header = _HEADER.match(row)
        if header:
            if added is not None:
                hunks.append(DiffHunk(start, removed, tuple(added)))
            old_start, old_count = int(header[1]), int(header[2] if header[2] is not None else 1)
            # "-s,0" inserts after old line s (1-based), that is before 0-based line s; "-s,n" starts at line s.
            start, removed, added = (old_start if old_count == 0 else old_start - 1), old_count, []
        elif added is not None and row.startswith("+"):
            added.append(row[1:])
    if added is not None:
        hunks.append(DiffHunk(start, removed, tuple(added)))
    return hunks


def split_lines(text: str) -> list[str]:
    """The lines git counts: split at ``\\n`` only, no empty last line for a final newline."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def apply_hunks(lines: Sequence[str], hunks: Sequence[DiffHunk]) -> list[str]:
    """``lines`` with ``hunks`` (non-overlapping, in old-line coordinates, any order) applied."""
    result = list(lines)
    for hunk in sorted(hunks, key=lambda h: h.start, reverse=True):
        result[hunk.start : hunk.start + hunk.removed] = hunk.added
    return result


def code_of(text: str) -> str | None:
    """The AST of ``text`` without docstrings, dumped (no positions); None when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def starts_code(text: str, first: int, count: int) -> bool:
    """Whether a token other than a comment or a string starts on 0-based lines ``first .. first + count - 1``."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in _NOT_CODE and first <= token.start[0] - 1 < first + count:
                return True
    except (tokenize.TokenError, SyntaxError):
        return False
    return False


def _join(lines: Sequence[str], newline_at_end: bool) -> str:
    return "\n".join(lines) + ("\n" if newline_at_end and lines else "")


def cases_from_change(
    commit: str, path: str, before: str, after: str, hunks: Sequence[DiffHunk], stats: BuildStats
) -> list[GitCase]:
    """The cases of one file's change in one commit (``before`` and ``after``: the file's texts, ``hunks``: the
    diff between them); skips are counted in ``stats``."""
    stats.hunks += len(hunks)
    old = split_lines(before)
    if apply_hunks(old, hunks) != split_lines(after):
        stats.skipped["diff does not match the texts"] += 1
        return []
    candidates = [h for h in hunks if h.is_insertion and 1 <= len(h.added) <= MAX_INSERTED]
    if not candidates:
        return []
    stats.insertions += len(candidates)
    before_code = code_of(before)
    if before_code is None:
        stats.skipped["parent file does not parse"] += len(candidates)
        return []
    newline_at_end = before.endswith("\n") or not before
    cases = []
    for target in candidates:
        inserted = _join(apply_hunks(old, [target]), newline_at_end)
        inserted_code = code_of(inserted)
        if inserted_code is None:
            stats.skipped["insertion alone does not parse"] += 1
            continue
        if inserted_code == before_code or not starts_code(inserted, target.start, len(target.added)):
            stats.skipped["inserts no code"] += 1
            continue
        others = sorted(
            (h for h in hunks if h is not target), key=lambda h: -abs(h.start - target.start)
        )  # farthest first
        states = [_join(apply_hunks(old, others[:i]), newline_at_end) for i in range(len(others) + 1)]
        if others and code_of(states[-1]) is None:
            stats.skipped["buffer with the other hunks does not parse"] += 1
            continue
        shift = sum(len(h.added) - h.removed for h in others if h.start < target.start)
        history = tuple(d for a, b in pairwise(states) if (d := diff_states(a, b)))
        cases.append(
            GitCase(
                commit,
                path,
                before,
                target.start,
                target.added,
                states[-1],
                target.start + shift,
                history,
            )
        )
    return cases


# ---------------------------------------------------------------------------------------------------- git plumbing


def run_git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """stdout of ``git -C repo ARGS`` (CalledProcessError when it fails)."""
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
        input=stdin,
        check=True,
        capture_output=True,
    ).stdout


def commits(repo: Path, rev: str = "HEAD") -> list[str]:
    """Non-merge commits of ``rev`` (a revision or range) along first parents, newest first."""
    return run_git(repo, "log", "--first-parent", "--no-merges", "--format=%H", rev).decode().split()


def _file_at(repo: Path, rev: str, path: str) -> bytes:
    return run_git(repo, "show", f"{rev}:{path}")


def changed_python_files(repo: Path, commit: str) -> list[str]:
    """The ``.py`` files ``commit`` modified (not added, deleted or renamed), against its first parent."""
    out = run_git(
        repo, "diff-tree", "-r", "-z", "--no-renames", "--diff-filter=M", "--name-only", f"{commit}^", commit
    )
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p.endswith(".py")]


def build_cases(
    repo: Path,
    rev: str = "HEAD",
    *,
    limit: int | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[list[GitCase], BuildStats]:
    """Cases from the history of the repository at ``repo``, newest commit first (at most ``limit``)."""
    stats = BuildStats()
    cases: list[GitCase] = []
    for case in iter_cases(repo, rev, stats, log=log):
        cases.append(case)
        if limit is not None and len(cases) >= limit:
            break
    return cases, stats


def iter_cases(
    repo: Path, rev: str, stats: BuildStats, *, log: Callable[[str], None] = lambda _: None
) -> Iterator[GitCase]:
    """`build_cases`, one case at a time; ``stats`` fills in as it goes."""
    for commit in commits(repo, rev):
        stats.commits += 1
        try:
            files = changed_python_files(repo, commit)
        except subprocess.CalledProcessError:  # the root commit has no parent
            stats.skipped["root commit"] += 1
            continue
        for path in files:
            stats.files += 1
            try:
                raw_before = _file_at(repo, f"{commit}^", path)
                raw_after = _file_at(repo, commit, path)
                before, after = raw_before.decode("utf-8"), raw_after.decode("utf-8")
            except UnicodeDecodeError:
                stats.skipped["file is not UTF-8"] += 1
                continue
            if any(len(text.splitlines()) != len(split_lines(text)) for text in (before, after)):
                # \r, form feeds and the like: Python and git would count its lines differently.
                stats.skipped["line breaks other than \\n"] += 1
                continue
            if max(len(split_lines(before)), len(split_lines(after))) > MAX_FILE_LINES:
                stats.skipped[f"file over {MAX_FILE_LINES} lines"] += 1
                continue
            patch = run_git(
                repo, "diff", "--unified=0", "--no-color", "--no-ext-diff", "--no-renames", f"{commit}^", commit,
                "--", path,
            ).decode("utf-8", "replace")  # fmt: skip
            found = cases_from_change(commit, path, before, after, parse_hunks(patch), stats)
            stats.cases += len(found)
            stats.with_history += sum(c.has_history for c in found)
            yield from found
        log(f"{commit[:12]}: {stats.cases} cases so far")
