"""Prompts: the buffer as edit history after the instruction, in both modes, with recent edits and derived
instructions."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from model_runtime import lint
from model_runtime.edits import SEPARATOR, diff_states, parse_edit, program_states
from model_runtime.prompts import build_prompt, derive_instruction, lintseq_states, split_history
from tests.support.tiny_model import (
    KNOWN_EDITS,
    KNOWN_INSTRUCTION,
    KNOWN_PROGRAM,
    KNOWN_STATES,
    prompt_for_state,
)


def test_whole_mode_writes_the_buffer_as_one_insertion():
    prompt = build_prompt(KNOWN_STATES[2], instruction=KNOWN_INSTRUCTION)
    assert prompt.text == prompt_for_state(2)
    assert prompt.edits == ("@@ -0,0 +1,3 @@\n+def sum_squares(xs):\n+    total = 0\n+    return total",)


def test_an_empty_buffer_gives_the_whole_sequence_prompt():
    assert build_prompt("", instruction="Add two numbers.").text == "Add two numbers." + SEPARATOR


def test_lintseq_mode_writes_the_buffer_as_lint_clean_insertions():
    prompt = build_prompt(KNOWN_PROGRAM, instruction=KNOWN_INSTRUCTION, mode="lintseq")
    states = program_states(parse_edit(e) for e in prompt.edits)
    assert states[-1] == KNOWN_PROGRAM
    assert len(prompt.edits) > 1
    assert all(not lint.errors(state) for state in states)


def test_lintseq_mode_puts_the_skeleton_before_the_loop_body():
    assert lintseq_states(KNOWN_PROGRAM) == list(KNOWN_STATES[1:])


def test_a_caller_can_supply_its_own_decomposition():
    prompt = build_prompt(KNOWN_PROGRAM, instruction="", mode="lintseq", decompose=lambda _: KNOWN_STATES[1:])
    assert prompt.edits == KNOWN_EDITS


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown prompt mode 'diff'"):
        build_prompt("x = 1", mode="diff")


def test_recent_edits_follow_the_state_before_them():
    history = [diff_states(KNOWN_STATES[1], KNOWN_STATES[2]), diff_states(KNOWN_STATES[2], KNOWN_STATES[3])]
    prompt = build_prompt(KNOWN_PROGRAM, instruction=KNOWN_INSTRUCTION, history=history)
    assert prompt.edits == KNOWN_EDITS


def test_recent_edits_that_delete_are_undone_too():
    before = "a = 1\nb = 2\nc = 3"
    after = "a = 1\nc = 3\nd = 4"
    assert split_history(after, [diff_states(before, after)]) == (before, [diff_states(before, after)])


def test_history_that_does_not_lead_to_the_buffer_is_ignored():
    stale = [diff_states("x = 1", "x = 1\ny = 2")]
    assert split_history("a = 1", stale) == ("a = 1", [])


def test_instruction_is_the_enclosing_functions_header_and_docstring():
    buffer = 'import os\n\n@cache\ndef f(x):\n    """Do it."""\n    return x\n'
    assert derive_instruction(buffer, 5) == '@cache\ndef f(x):\n    """Do it."""'


DOCUMENTED = 'import os\n\n\ndef f(xs):\n    """Sum xs,\n    twice."""\n    total = 0\n    return total\n'


def test_a_derived_functions_docstring_is_left_out_of_the_buffer_as_in_training():
    prompt = build_prompt(DOCUMENTED, line=6)
    assert prompt.instruction == 'def f(xs):\n    """Sum xs,\n    twice."""'
    assert prompt.hidden == (4, 5)
    assert prompt.buffer == "import os\n\n\ndef f(xs):\n    total = 0\n    return total"
    assert build_prompt(DOCUMENTED, line=6, instruction=prompt.instruction).hidden == (4, 5)
    # Given another instruction, or asked not to, the prompt shows the buffer as it is.
    assert build_prompt(DOCUMENTED, line=6, instruction="Sum.").hidden == ()
    assert build_prompt(DOCUMENTED, line=6, hide_docstring=False).hidden == ()


def test_recent_edits_are_written_without_the_hidden_docstring_too():
    before = DOCUMENTED.replace("    total = 0\n", "")
    history = [diff_states(before, DOCUMENTED)]
    prompt = build_prompt(DOCUMENTED, line=6, history=history)
    assert prompt.hidden == (4, 5)
    assert prompt.edits == (
        "@@ -0,0 +1,5 @@\n+import os\n+\n+\n+def f(xs):\n+    return total",
        "@@ -4,0 +5 @@\n+    total = 0",
    )


def test_a_docstring_sharing_a_line_with_code_stays_in_the_buffer():
    assert build_prompt('def f():\n    """Doc."""; x = 1\n    return x', line=2).hidden == ()
    assert build_prompt('def f(): """Doc."""', line=0).hidden == ()


def test_instruction_falls_back_to_the_module_docstring():
    assert derive_instruction('"""Tools for sums."""\n\ndef f():\n    pass\n', 3) == "Tools for sums."


def test_instruction_is_empty_without_docstrings_or_when_the_buffer_does_not_parse():
    assert derive_instruction("def f():\n    pass\n", 1) == ""
    assert derive_instruction("def f(:\n", 0) == ""


_line = st.sampled_from(
    ["x = 1", "y = x", "def f(a):", "    return a", "if x:", "    y = 2", "print(y)", "# note"]
)


# Random lines often make a syntax error, which assume() filters out; on a loaded machine the health check then
# fails the test now and then (seen once in a full run), though enough programs remain.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(_line, min_size=1, max_size=8))
def test_lintseq_states_end_at_the_program_and_add_no_errors(lines):
    program = "\n".join(lines)
    assume(not any(e.kind == lint.SYNTAX_ERROR for e in lint.errors(program)))
    states = lintseq_states(program)
    if program.strip():
        assert states[-1] == "\n".join(program.strip().splitlines())
    for state in states:
        assert not lint.new_errors(program, state)


def _enclosing_by_full_walk(tree, lineno):
    """The oracle: every function of the whole tree whose span holds ``lineno``, innermost first."""
    import ast

    found = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.lineno <= lineno <= n.end_lineno
    ]
    return sorted(found, key=lambda n: n.lineno, reverse=True)


@functools.cache
def _module_trees() -> list[tuple[str, object]]:
    from tests.support.stdlib_programs import stdlib_modules

    return [(source, lint.parse(source)) for _, source in stdlib_modules(8, max_lines=400)]


@settings(max_examples=200, deadline=None)
@given(module=st.integers(min_value=0, max_value=7), fraction=st.floats(min_value=0, max_value=1))
def test_the_enclosing_functions_are_found_in_the_top_level_statement_around_the_line(module, fraction):
    from model_runtime.outline import Outline
    from model_runtime.prompts import _enclosing_functions

    source, tree = _module_trees()[module]
    lineno = 1 + int(fraction * (len(source.split("\n")) - 1))
    around = Outline.of_tree(tree).around(lineno)
    found = _enclosing_functions(around[0], lineno) if around is not None else []
    assert found == _enclosing_by_full_walk(tree, lineno)
