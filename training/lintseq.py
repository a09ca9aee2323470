"""LintSeq backward sampling: a program -> sequences of lint-clean insertion edits that write it from nothing.

Backward sampling (Piterbarg et al. 2024, DESIGN.md): starting from the full program, pick a line (weight grows
with its indentation; comments and blank lines are never picked), delete it with the lines that depend on it, lint,
and keep deleting what the linter now reports as *new* errors until the program is clean again. Each such step is
one edit. Repeat until the program is empty, then read the states backwards: a sequence of insertions in which every
intermediate program has no pyflakes error the original lacks.

Which lines depend on a line is decided once per program, from its tokens:

- the lines indented under it (its block, like the reference), where blank lines, lines inside a multi-line string
  and lines that start with a closing bracket count as indented like the line above them (so a call's closing
  ``)`` goes with the call);
- the continuation lines of the statement it starts (a multi-line string, a backslash continuation);
- the comments and blank lines directly above it (a comment belongs to the code it introduces; the reference
  instead leaves them all for one odd first edit).

Line numbers of new errors map back to the original line exactly, because every state is a subsequence of the
original's lines. Two syntax errors are reported away from their cause and are mapped back: "expected an indented
block after ... on line N" to line N, and "expected 'except' or 'finally' block" (the only ``except`` of a ``try``
was deleted; Python blames the next statement) to the ``try``.
"""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model_runtime import lint
from model_runtime.edits import Hunk, normalise

_ON_LINE = re.compile(r"on line (\d+)")
_CLOSERS = (")", "]", "}")


@dataclass(frozen=True)
class Program:
    """What sampling needs to know about one program, computed once: its lines, dependencies and weights."""

    lines: tuple[str, ...]
    dependents: tuple[tuple[int, ...], ...]  # lines deleted together with line i (i itself excluded)
    candidates: tuple[int, ...]  # lines that may be picked
    weights: tuple[float, ...]  # picking weight of each candidate, same order
    baseline: Counter  # (kind, message) of the original's errors, tolerated in every state
    baseline_at: Counter  # (line index, kind, message) of the original's errors
    try_lines: tuple[int, ...]  # 0-based first lines of try statements

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Sample:
    """One sampled edit sequence: which original lines each insertion adds, in forward order."""

    lines: tuple[str, ...]
    steps: tuple[tuple[int, ...], ...]  # sorted original line indices inserted by each edit
    lint_calls: int

    def states(self) -> list[str]:
        """Every program state, from the empty program to the full one."""
        present: set[int] = set()
        states = [""]
        for step in self.steps:
            present.update(step)
            states.append("\n".join(self.lines[i] for i in sorted(present)))
        return states

    def edits(self) -> list[str]:
        """The edit texts (pure insertions, zero context, no file header) that write the program."""
        present: list[int] = []
        result = []
        for step in self.steps:
            result.append(insertion_edit(present, step, self.lines))
            present = sorted([*present, *step])
        return result


def insertion_edit(present: Sequence[int], added: Iterable[int], lines: Sequence[str]) -> str:
    """The edit text that inserts the original lines ``added`` into the state made of the lines ``present``.

    Hunks are built from the known subsequence relation rather than by diffing, so they are pure insertions even
    where difflib would align repeated lines differently; headers match difflib's (``@@ -a,0 +c,d @@``).
    """
    added_set = set(added)
    after = sorted({*present, *added_set})
    hunks: list[Hunk] = []
    run: list[int] = []
    old_before = 0  # lines of the old state before the current position
    for position, index in enumerate(after):
        if index in added_set:
            if not run:
                start_new, start_old = position + 1, old_before
            run.append(index)
            continue
        if run:
            hunks.append(Hunk(start_old, 0, start_new, tuple(lines[i] for i in run)))
            run = []
        old_before += 1
    if run:
        hunks.append(Hunk(start_old, 0, start_new, tuple(lines[i] for i in run)))
    return "\n".join(h.render() for h in hunks)


def prepare(program: str, *, ignore_imports: bool = False) -> Program:
    """Analyse a program once for sampling. Raises ValueError if it does not parse."""
    if not isinstance(program, str):
        raise TypeError(f"program must be a str, not {type(program).__name__}")
    lines = tuple(normalise(program))
    text = "\n".join(lines)
    try:
        tree = lint.parse(text)
    except SyntaxError as exc:
        raise ValueError(f"program does not parse: line {exc.lineno}: {exc.msg}") from exc
    n = len(lines)
    starts, string_inner = _logical_lines(text, n)
    trivia = [not line.strip() or line.lstrip().startswith("#") for line in lines]
    trivia = [t and not string_inner[i] for i, t in enumerate(trivia)]
    indents = _indents(lines, string_inner)

    dependents: list[tuple[int, ...]] = []
    for i in range(n):
        dep: set[int] = set()
        j = i + 1
        while j < n and indents[j] > indents[i]:  # the block indented under line i
            dep.add(j)
            j += 1
        j = i + 1
        while j < n and starts[j] == starts[i] and starts[i] == i:  # continuation lines of its statement
            dep.add(j)
            j += 1
        j = i - 1
        while j >= 0 and trivia[j] and not trivia[i]:  # comments and blank lines directly above
            dep.add(j)
            j -= 1
        dependents.append(tuple(sorted(dep)))

    candidates = [
        i
        for i in range(n)
        if not trivia[i] and not string_inner[i] and not (ignore_imports and "import" in lines[i])
    ]
    tab_width = next((indents[i] for i in range(n) if indents[i] > 0), 1)
    weights = [1.0 if indents[i] == 0 else indents[i] / tab_width for i in candidates]

    for node in ast.walk(tree):  # a decorator cannot stay without its def
        if isinstance(node, _DECORATED) and node.decorator_list:
            first = min(d.lineno for d in node.decorator_list) - 1
            dependents[node.lineno - 1] = tuple(
                sorted({*dependents[node.lineno - 1], *range(first, node.lineno - 1)})
            )

    found = [e for e in lint.check_tree(tree) if e.is_error]
    try_lines = tuple(sorted(node.lineno - 1 for node in ast.walk(tree) if isinstance(node, _TRY_NODES)))
    return Program(
        lines=lines,
        dependents=tuple(dependents),
        candidates=tuple(candidates),
        weights=tuple(weights),
        baseline=Counter((e.kind, e.message) for e in found),
        baseline_at=Counter((e.line - 1, e.kind, e.message) for e in found),
        try_lines=try_lines,
    )


_DECORATED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TRY_NODES = tuple(getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name))


def _logical_lines(text: str, n: int) -> tuple[list[int], list[bool]]:
    """For each line: the first line of the statement it belongs to, and whether it lies inside a multi-line string
    (after the string's first line)."""
    starts = list(range(n))
    string_inner = [False] * n
    start = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            row, end_row = tok.start[0] - 1, tok.end[0] - 1
            if tok.type in (tokenize.NL, tokenize.COMMENT) and start is None:
                continue
            if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if start is None:
                start = row
            for r in range(row, min(end_row, n - 1) + 1):
                starts[r] = start
            if tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_MIDDLE", None) == tok.type:
                for r in range(row + 1, min(end_row, n - 1) + 1):
                    string_inner[r] = True
            if tok.type == tokenize.NEWLINE:
                start = None
    except (tokenize.TokenError, SyntaxError):  # the parser accepted it; tokenize quirks only cost precision
        pass
    return starts, string_inner


def _indents(lines: Sequence[str], string_inner: Sequence[bool]) -> list[int]:
    """Indentation used for the block rule: blank lines, string contents and closing-bracket lines take the
    indentation of the line above, so they are deleted with it."""
    indents = []
    previous = 0
    for line, inner in zip(lines, string_inner, strict=True):
        stripped = line.lstrip()
        if stripped and not inner and not stripped.startswith(_CLOSERS):
            previous = len(line.expandtabs()) - len(stripped)
        indents.append(previous)
    return indents


class _Sampler:
    """The backward walk for one program and one random stream."""

    def __init__(self, program: Program, rng: random.Random):
        self.program = program
        self.rng = rng
        self.lint_calls = 0

    def closure(self, seeds: Iterable[int], gone: set[int]) -> set[int]:
        """``seeds`` and everything that depends on them, transitively, leaving out lines already gone."""
        result: set[int] = set()
        stack = [s for s in seeds if s not in gone]
        while stack:
            i = stack.pop()
            if i in result:
                continue
            result.add(i)
            stack.extend(j for j in self.program.dependents[i] if j not in gone and j not in result)
        return result

    def new_error_lines(self, present: list[int]) -> list[int]:
        """Original indices of the lines whose errors are new in the state made of ``present`` (empty if clean)."""
        self.lint_calls += 1
        text = "\n".join(self.program.lines[i] for i in present)
        found = lint.errors(text)
        if not found:
            return []
        kinds = Counter((e.kind, e.message) for e in found)
        if not kinds - self.program.baseline:
            return []
        exact = Counter(self.program.baseline_at)
        leftover = []
        for e in found:
            index = present[min(e.line, len(present)) - 1]
            key = (index, e.kind, e.message)
            if exact[key] > 0:
                exact[key] -= 1
            else:
                leftover.append((e, index))
        spare = Counter((kind, message) for (_, kind, message), count in exact.items() for _ in range(count))
        blamed = []
        for e, index in leftover:
            if spare[(e.kind, e.message)] > 0:
                spare[(e.kind, e.message)] -= 1
            else:
                blamed.append(self.blame(e, index, present))
        return blamed

    def blame(self, error: lint.LintError, index: int, present: list[int]) -> int:
        """The original line to delete for a new error: where it is reported, or the cause of a misplaced one."""
        if error.kind != lint.SYNTAX_ERROR:
            return index
        match = _ON_LINE.search(error.message)
        if match:
            line = int(match.group(1))
            if 1 <= line <= len(present):
                return present[line - 1]
        if "'except' or 'finally'" in error.message:
            before = [t for t in self.program.try_lines if t < index and t in set(present)]
            if before:
                return before[-1]
        return index

    def walk(self) -> Sample:
        program = self.program
        n = len(program.lines)
        gone: set[int] = set()
        deletions: list[set[int]] = []
        pool = dict(zip(program.candidates, program.weights, strict=True))
        while pool:
            choice = self.rng.choices(list(pool), weights=list(pool.values()))[0]
            step = self.closure([choice], gone)
            while True:
                present = [i for i in range(n) if i not in gone and i not in step]
                if not present:
                    break
                blamed = self.new_error_lines(present)
                if not blamed:
                    break
                step |= self.closure(blamed, gone | step)
            gone |= step
            deletions.append(step)
            for i in step:
                pool.pop(i, None)
        rest = {i for i in range(n) if i not in gone}
        if any(
            program.lines[i].strip() for i in rest
        ):  # trailing comments nobody depends on: the first insertion writes them
            deletions.append(rest)
        steps = tuple(tuple(sorted(s)) for s in reversed(deletions))
        return Sample(program.lines, steps, self.lint_calls)


def sample(
    program: str | Program, *, samples: int = 5, seed: int = 0, ignore_imports: bool = False
) -> list[Sample]:
    """Sample ``samples`` LintSeq edit sequences of a program; deterministic for (program, seed).

    Sample k depends only on (program, seed, k), so asking for more samples never changes the first ones.
    Raises ValueError if the program does not parse.
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    prepared = program if isinstance(program, Program) else prepare(program, ignore_imports=ignore_imports)
    return [_Sampler(prepared, random.Random(f"lintseq:{seed}:{k}")).walk() for k in range(samples)]


def sample_edits(
    program: str, *, samples: int = 5, seed: int = 0, ignore_imports: bool = False
) -> list[list[str]]:
    """LintSeq edit texts of a program: one list per sample, insertions from the empty program to the full one."""
    return [s.edits() for s in sample(program, samples=samples, seed=seed, ignore_imports=ignore_imports)]


def sample_states(
    program: str, *, samples: int = 5, seed: int = 0, ignore_imports: bool = False
) -> list[list[str]]:
    """Program states of each sampled sequence, from ``""`` to the (normalised) program; same samples as
    ``sample_edits`` for the same arguments."""
    return [s.states() for s in sample(program, samples=samples, seed=seed, ignore_imports=ignore_imports)]
