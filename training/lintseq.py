"""LintSeq backward sampling: a program -> sequences of lint-clean insertion edits that write it from nothing.

Backward sampling (Piterbarg et al. 2024, DESIGN.md): starting from the full program, pick a line (weight grows
with its indentation; comments and blank lines are never picked), delete it with the lines that depend on it
(``training.lintseq_analysis`` says which), lint, and keep deleting what the linter now reports as *new* errors until
the program is clean again. Each such step is one edit. Repeat until the program is empty, then read the states
backwards: a sequence of insertions in which every intermediate program has no pyflakes error the original lacks.

Line numbers of new errors map back to the original line exactly, because every state is a subsequence of the
original's lines. Two syntax errors are reported away from their cause and are mapped back: "expected an indented
block after ... on line N" to line N, and "expected 'except' or 'finally' block" (the only ``except`` of a ``try``
was deleted; Python blames the next statement) to the ``try``.

Speed: a def-use analysis made once per program (``Program.judge``) decides most steps without the linter: a
deletion that provably adds no error is accepted, one whose only new errors are reads of a name it unbound has
those reads blamed directly, and a compound statement left without its body (or a ``try`` without a handler)
loses its header at once. Pyflakes runs only where the analysis cannot tell; tests check that the sequences are
exactly those of linting after every deletion.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model_runtime import lint
from model_runtime.edits import insertion
from training.lintseq_analysis import prepare
from training.lintseq_program import BLAME, CLEAN, Program

__all__ = [
    "Program",
    "Sample",
    "Step",
    "delete_step",
    "prepare",
    "sample",
    "sample_edits",
    "sample_states",
    "walk",
]

_ON_LINE = re.compile(r"on line (\d+)")


@dataclass(frozen=True)
class Sample:
    """One sampled edit sequence: which original lines each insertion adds, in forward order."""

    lines: tuple[str, ...]
    steps: tuple[tuple[int, ...], ...]  # sorted original line indices inserted by each edit
    lint_calls: int

    def visible(self) -> list[list[int]]:
        """The original line indices of every state as the format sees it (``strip().splitlines()``).

        Blank lines at either end of a state are not part of it: they join the program in the edit that makes them
        interior, exactly as a diff of the normalised states would add them.
        """
        present: set[int] = set()
        result: list[list[int]] = [[]]
        for step in self.steps:
            present.update(step)
            ordered = sorted(present)
            blank = [not self.lines[i].strip() for i in ordered]
            start = next((k for k, b in enumerate(blank) if not b), len(ordered))
            end = len(ordered) - next((k for k, b in enumerate(reversed(blank)) if not b), len(ordered))
            result.append(ordered[start:end])
        return result

    def states(self) -> list[str]:
        """Every program state, from the empty program to the full one (normalised like the format)."""
        return ["\n".join(self.lines[i] for i in state) for state in self.visible()]

    def edits(self) -> list[str]:
        """The edit texts (pure insertions, zero context, no file header) that write the program."""
        states = self.visible()
        return [
            insertion_edit(before, sorted(set(after) - set(before)), self.lines)
            for before, after in zip(states, states[1:], strict=False)
            if len(after) > len(before)
        ]


def insertion_edit(present: Sequence[int], added: Iterable[int], lines: Sequence[str]) -> str:
    """The edit text that inserts the original lines ``added`` into the state made of the lines ``present``.

    Hunks are built from the known subsequence relation rather than by diffing, so they are pure insertions even
    where difflib would align repeated lines differently; headers match difflib's (``@@ -a,0 +c,d @@``).
    """
    added_set = set(added)
    after = sorted({*present, *added_set})
    return insertion([lines[i] for i in after], [i in added_set for i in after]).render()


@dataclass(frozen=True)
class Step:
    """One backward step: the lines it deleted and how many times it ran the linter."""

    deleted: frozenset[int]
    lint_calls: int


def closure(program: Program, seeds: Iterable[int], gone: set[int] | frozenset[int]) -> set[int]:
    """``seeds`` and every line that depends on them, transitively, leaving out lines already gone."""
    result: set[int] = set()
    stack = [s for s in seeds if s not in gone]
    while stack:
        i = stack.pop()
        if i in result:
            continue
        result.add(i)
        stack.extend(j for j in program.dependents[i] if j not in gone and j not in result)
    return result


def delete_step(
    program: Program, gone: set[int] | frozenset[int], line: int, *, always_lint: bool = False
) -> Step:
    """Delete ``line`` (and its dependents) from the state without the lines ``gone``, then keep deleting the lines
    blamed for new errors until the state has none. Pure: returns the lines this step deleted.

    The linter runs only when ``Program.judge`` cannot tell what the deletion leaves (or always, for tests and
    comparisons, with ``always_lint``): most deletions provably add no error, and most that do only leave reads of
    a name they unbound, which are blamed directly.
    """
    n = len(program.lines)
    step = _grow(program, [line], gone)
    calls = 0
    while True:
        now_gone = set(gone) | step
        # Judged against the clean state the step started from, never against an intermediate linted one: pyflakes
        # reports some errors once for several lines (an UndefinedLocal at the last read only), so a linted state's
        # findings do not bound those of its sub-states.
        if len(now_gone) == n:
            break
        if not always_lint:
            verdict, blamed = program.judge(step, now_gone)
            if verdict == CLEAN:
                break
            if verdict == BLAME:  # undefined names the def-use facts can place: what pyflakes would report
                step |= _grow(program, blamed, now_gone)
                continue
        calls += 1
        blamed = _new_error_lines(program, [i for i in range(n) if i not in now_gone])
        if not blamed:
            break
        step |= _grow(program, blamed, now_gone)
    return Step(frozenset(step), calls)


def _grow(program: Program, seeds: Iterable[int], gone: set[int] | frozenset[int]) -> set[int]:
    """The closure of ``seeds``, plus (with their closures) the headers left without a body and the ``try``/``match``
    statements left without the clauses they need, until none is left: the linter would only blame them."""
    result = closure(program, seeds, gone)
    while True:
        now_gone = set(gone) | result
        empty = [
            h
            for h in (*program.empty_headers(result, now_gone), *program.broken_statements(result, now_gone))
            if h not in now_gone
        ]
        if not empty:
            return result
        result |= closure(program, empty, now_gone)


def _new_error_lines(program: Program, present: list[int]) -> list[int]:
    """Original indices of the lines to blame for the errors that are new in the state made of ``present``."""
    text = "\n".join(program.lines[i] for i in present)
    try:
        tree = lint.parse(text)
    except SyntaxError as exc:
        error = lint.syntax_error(exc, text)
        return [_blame_syntax(program, error, present)]
    found = [e for e in lint.check_tree(tree) if e.is_error]
    if not found or not Counter((e.kind, e.message) for e in found) - program.baseline:
        return []
    exact = Counter(program.baseline_at)
    leftover = []
    for e in found:
        index = present[min(e.line, len(present)) - 1]
        key = (index, e.kind, e.message)
        if exact[key] > 0:
            exact[key] -= 1
        else:
            leftover.append((e, index))
    spare = Counter()
    for (_, kind, message), count in exact.items():
        spare[(kind, message)] += count
    blamed = []
    for e, index in leftover:
        if spare[(e.kind, e.message)] > 0:
            spare[(e.kind, e.message)] -= 1
        else:
            blamed.append(index)
    return blamed


def _blame_syntax(program: Program, error: lint.LintError, present: list[int]) -> int:
    """The original line to delete for a syntax error: where it is reported, or the cause of a misplaced one."""
    index = present[min(error.line, len(present)) - 1]
    match = _ON_LINE.search(error.message)
    if match and 1 <= int(match.group(1)) <= len(present):
        return present[int(match.group(1)) - 1]
    if "'except' or 'finally'" in error.message:
        alive = set(present)
        before = [t for t in program.try_lines if t < index and t in alive]
        if before:
            return before[-1]
    return index


def walk(program: Program, rng: random.Random, *, always_lint: bool = False) -> Sample:
    """One backward walk to the empty program, read forwards as insertions."""
    n = len(program.lines)
    gone: set[int] = set()
    deletions: list[frozenset[int]] = []
    calls = 0
    pool = dict(zip(program.candidates, program.weights, strict=True))
    while pool:
        choice = rng.choices(list(pool), weights=list(pool.values()))[0]
        step = delete_step(program, gone, choice, always_lint=always_lint)
        calls += step.lint_calls
        gone |= step.deleted
        deletions.append(step.deleted)
        for i in step.deleted:
            pool.pop(i, None)
    rest = frozenset(i for i in range(n) if i not in gone)
    if any(
        program.lines[i].strip() for i in rest
    ):  # trailing comments nobody depends on: the first insertion
        deletions.append(rest)
    steps = tuple(tuple(sorted(s)) for s in reversed(deletions))
    return Sample(program.lines, steps, calls)


def sample(
    program: str | Program,
    *,
    samples: int = 5,
    seed: int = 0,
    ignore_imports: bool = False,
    always_lint: bool = False,
) -> list[Sample]:
    """Sample ``samples`` LintSeq edit sequences of a program; deterministic for (program, seed).

    Sample k depends only on (program, seed, k), so asking for more samples never changes the first ones.
    Raises ValueError if the program does not parse.
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    prepared = program if isinstance(program, Program) else prepare(program, ignore_imports=ignore_imports)
    return [
        walk(prepared, random.Random(f"lintseq:{seed}:{k}"), always_lint=always_lint) for k in range(samples)
    ]


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
