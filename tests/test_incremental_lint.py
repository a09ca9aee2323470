"""IncrementalLint gives exactly model_runtime.lint.check's findings, and re-checks only what an edit touched."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsp_server.diagnostics import lint_diagnostics, worker_lint
from model_runtime.incremental_lint import IncrementalLint
from model_runtime.lint import check

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Real modules of different shapes (classes, decorators, annotations, imports used only in functions, __all__,
# nested functions, lambdas), under 1,000 lines so that a hundred edited checks stay quick.
MODULES = [
    "abc.py",
    "calendar.py",
    "colorsys.py",
    "contextlib.py",
    "copy.py",
    "csv.py",
    "fnmatch.py",
    "fractions.py",
    "graphlib.py",
    "keyword.py",  # (says "global": checked in full, never reused)
    "numbers.py",
    "pprint.py",
    "random.py",
    "shlex.py",
    "string.py",
    "textwrap.py",
    "tokenize.py",  # (import * at module level: the same)
]
# One-line insertions that change what pyflakes says: new names, uses, shadowing, errors, indentation.
SNIPPETS = [
    "",
    "import os",
    "import sys as os",
    "from typing import overload",
    "x = undefined_name",
    "    x = undefined_name",
    "    return os.path",
    "    import re",
    "    for os in range(3): pass",
    "    del x",
    "def helper(a, a): pass",
    "def helper(): return helper",
    "class Helper: pass",
    "@overload",
    "__all__ = ['missing']",
    "    print(f'{x}')",
    "        yield",
    "lambda: unknown",
    "x: 'List[int]' = []",
    "if True:",
    "    pass",
    "(",
    "'''",
    "x = 1 \\",
]


def _source(name: str) -> str:
    return (STDLIB / name).read_text(encoding="utf-8")


@st.composite
def edit_sequences(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A stdlib module and the texts after each of 1-4 random one-line edits."""
    name = draw(st.sampled_from(MODULES))
    lines = _source(name).split("\n")
    texts = []
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["insert", "delete", "copy", "indent", "dedent"]))
        if kind == "insert":
            lines.insert(at, draw(st.sampled_from(SNIPPETS)))
        elif kind == "delete" and len(lines) > 1:
            del lines[at]
        elif kind == "copy":
            lines.insert(at, lines[draw(st.integers(0, len(lines) - 1))])
        elif kind == "indent":
            lines[at] = "    " + lines[at]
        else:
            lines[at] = lines[at][4:] if lines[at].startswith("    ") else lines[at]
        texts.append("\n".join(lines))
    return name, texts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sequences())
def test_same_findings_as_a_full_check_after_random_edits(case: tuple[str, list[str]]) -> None:
    name, texts = case
    lint = IncrementalLint()
    assert lint.check(_source(name)) == check(_source(name))
    for text in texts:
        assert lint.check(text) == check(text)
    assert lint.failures == 0


@pytest.mark.parametrize("name", MODULES)
def test_unchanged_module_replays_every_unit_with_deferred_work(name: str) -> None:
    lint = IncrementalLint()
    first = lint.check(_source(name))
    again = lint.check(_source(name))
    assert again == first == check(_source(name))
    assert lint.failures == 0
    if lint.units is not None:  # (modules with `global` are always checked in full)
        assert lint.last_hits == len(lint.memo) > 0
        assert lint.last_parsed == 0


BIG = "".join(f"def f{i}(x):\n    y = x + {i}\n    return y\n\n" for i in range(1250))


def test_one_line_change_in_a_big_file_parses_a_few_lines_and_rechecks_one_function() -> None:
    lint = IncrementalLint()
    lint.check(BIG)
    lines = BIG.split("\n")
    lines.insert(2 + 4 * 600, "    z = y")  # in the body of f600
    text = "\n".join(lines)
    found = lint.check(text)
    assert lint.last_parsed < 10
    assert lint.last_hits == 1249
    assert found == check(text)
    assert [(f.line, f.kind) for f in found] == [(2403, "UnusedVariable")]


def test_an_indented_line_under_a_function_joins_it() -> None:
    lint = IncrementalLint()
    lint.check(BIG)
    lines = BIG.split("\n")
    lines.insert(4 * 10 + 3, "    unused = y")  # the blank line after f10: still f10's body
    text = "\n".join(lines)
    found = lint.check(text)
    assert lint.last_hits == 1249
    assert found == check(text)
    assert [f.kind for f in found] == ["UnusedVariable"]


def test_a_use_removed_from_a_function_makes_the_module_import_unused() -> None:
    text = "import os\n\n\ndef f():\n    return os.sep\n\n\ndef g():\n    return 1\n"
    lint = IncrementalLint()
    assert lint.check(text) == []
    edited = text.replace("return os.sep", "return 2")
    assert [f.kind for f in lint.check(edited)] == ["UnusedImport"] == [f.kind for f in check(edited)]
    assert lint.check(text) == [] and lint.last_hits == 1  # g replayed; f's use of os replayed next time too
    assert lint.check(text) == [] and lint.last_hits == 2


def test_messages_that_quote_another_line_follow_it() -> None:
    text = "import os\n\n\ndef f():\n    for os in range(3):\n        pass\n"
    lint = IncrementalLint()
    assert lint.check(text) == check(text)
    moved = "# a comment\n" + text  # the import moves down a line: the quoted line changes
    found = lint.check(moved)
    assert found == check(moved)
    assert "import 'os' from line 2 shadowed by loop variable" in [f.message for f in found]


def test_global_and_syntax_errors_fall_back_to_a_full_check() -> None:
    lint = IncrementalLint()
    text = "x = 1\n\n\ndef f():\n    global x\n    x = 2\n"
    assert lint.check(text) == check(text) and lint.units is None
    broken = BIG.replace("    return y\n", "    return (y\n", 1)
    assert lint.check(broken) == check(broken) and lint.units is None
    assert lint.check(BIG) == check(BIG) == []


def test_lint_diagnostics_with_a_uri_equals_without() -> None:
    text = _source("textwrap.py") + "\nprint(undefined)\n"
    for _ in range(2):  # the second call reuses the first one's work
        assert lint_diagnostics(text, "file:///t.py") == lint_diagnostics(text)
        assert worker_lint(text, "file:///w.py") == lint_diagnostics(text)


@st.composite
def candidate_insertions(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A stdlib module and 1-4 programs, each the module with a few snippet lines inserted at one place (as the
    model's candidate edits for one buffer are)."""
    name = draw(st.sampled_from(MODULES))
    lines = _source(name).split("\n")
    programs = []
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines)))
        added = draw(st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=3))
        programs.append("\n".join(lines[:at] + added + lines[at:]))
    return _source(name), programs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candidate_insertions())
def test_candidate_validation_judges_as_full_checks_do(case: tuple[str, list[str]]) -> None:
    """suggestions.BufferLint checks the candidates of one buffer one after another, incrementally: each verdict
    (adds an error or not) is the one full pyflakes checks give."""
    from model_runtime.candidate_checks import BufferLint

    buffer, programs = case
    incremental, full = BufferLint(buffer), BufferLint(buffer, incremental=False)
    assert incremental.errors == full.errors and incremental.error == full.error
    for program in programs:
        assert incremental.adds_errors(program) == full.adds_errors(program)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candidate_insertions(), candidate_insertions())
def test_a_document_linter_kept_across_versions_judges_as_full_checks_do(
    first: tuple[str, list[str]], second: tuple[str, list[str]]
) -> None:
    """The language server keeps one IncrementalLint per document: the next version's buffer (here, one of the
    candidates, then another module) is checked against whatever the linter saw last."""
    from model_runtime.candidate_checks import BufferLint

    kept = IncrementalLint()
    for buffer, programs in (first, (first[1][0], second[1]), second):
        linted, full = BufferLint(buffer, linter=kept), BufferLint(buffer, incremental=False)
        assert linted.errors == full.errors and linted.error == full.error
        for program in programs:
            assert linted.adds_errors(program) == full.adds_errors(program)
    assert kept.failures == 0


def test_a_fork_starts_from_the_last_check_and_leaves_the_original_as_it_was() -> None:
    lint = IncrementalLint()
    lint.check(BIG)
    lines = BIG.split("\n")
    lines.insert(2 + 4 * 600, "    z = undefined")
    candidate = "\n".join(lines)
    fork = lint.fork()
    assert fork.check(candidate) == check(candidate)
    assert fork.last_parsed < 10 and fork.last_hits == 1249
    assert lint.check(BIG) == check(BIG) and lint.last_parsed == 0  # still at BIG: nothing parsed again
