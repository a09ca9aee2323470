"""Position repair: a misplaced edit is moved to the nearest position where the program parses; text whose states
all parse resolves exactly as without repair."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.edits import render_sequence, resolve
from model_runtime.repair import resolve_repairing
from tests.support import stdlib_programs
from training.lintseq import sample_edits

STATE = "def f(x):\n    if x:\n        return 1"


def sequence(*edits: str) -> str:
    return render_sequence(
        "Write f.", ["@@ -0,0 +1,3 @@\n" + "\n".join("+" + line for line in STATE.split("\n")), *edits]
    )


def test_an_edit_that_breaks_the_program_moves_to_the_nearest_position_that_parses():
    text = sequence("@@ -2,0 +3 @@\n+    return 2")  # between `if x:` and its body: IndentationError
    assert resolve(text).split("\n")[2] == "    return 2"
    program, moved = resolve_repairing(text)
    assert moved == 1
    # One line earlier and one line later both parse; the earlier wins the tie.
    assert program == "def f(x):\n    return 2\n    if x:\n        return 1"


def test_a_closer_position_wins_over_an_earlier_one():
    state = "def f(xs):\n    for x in xs:\n        for y in xs:\n            if x < y:\n                return True"
    first = "@@ -0,0 +1,5 @@\n" + "\n".join("+" + line for line in state.split("\n"))
    text = render_sequence("Write f.", [first, "@@ -4,0 +5 @@\n+    return False"])  # inside the innermost if
    program, moved = resolve_repairing(text)
    assert moved == 1
    assert program == state + "\n    return False"  # one line later; two lines earlier would parse too


def test_an_edit_that_parses_nowhere_keeps_its_stated_position():
    text = sequence("@@ -3,0 +4 @@\n+    return (")
    assert resolve_repairing(text) == (resolve(text), 0)


def test_edits_after_a_state_that_already_failed_to_parse_are_not_moved():
    text = sequence("@@ -3,0 +4 @@\n+    return (", "@@ -2,0 +3 @@\n+    y = 2")
    assert resolve_repairing(text) == (resolve(text), 0)


@functools.cache
def _programs() -> list[str]:
    return [source for _, source in stdlib_programs.stdlib_functions(60)]


@settings(max_examples=60, deadline=None)
@given(index=st.integers(min_value=0, max_value=59), seed=st.integers(min_value=0, max_value=10_000))
def test_a_sequence_whose_states_all_parse_resolves_as_without_repair(index, seed):
    program = _programs()[index]
    text = render_sequence("Write it.", sample_edits(program, samples=1, seed=seed)[0])
    assert resolve_repairing(text) == (resolve(text), 0) == (program.strip(), 0)
