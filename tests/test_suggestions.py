"""Suggestions: the known next edit validated and positioned, bad edits dropped and counted, whole sequences."""

from __future__ import annotations

import ast
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime import lint
from model_runtime.candidate_checks import _TERMINAL, BufferLint, adds_unreachable_code
from model_runtime.edits import parse_edit
from model_runtime.generation import Cancelled
from model_runtime.loading import load_model
from model_runtime.suggestions import (
    Placement,
    generate_sequences,
    insert_placements,
    placements_for,
    replay,
    suggest,
    validate,
)
from tests.support.tiny_model import (
    KNOWN_EDITS,
    KNOWN_INSTRUCTION,
    KNOWN_NEXT_LINE,
    KNOWN_NEXT_LINES,
    KNOWN_PROGRAM,
    KNOWN_STATES,
)


@pytest.fixture
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir, device="cpu")


def test_the_known_next_edit_is_suggested_validated_and_positioned(loaded):
    result = suggest(loaded, KNOWN_STATES[2], instruction=KNOWN_INSTRUCTION, k=4, seed=0)
    assert result.buffer_error is None
    best = result.suggestions[0]
    assert best.edit_text == KNOWN_EDITS[2]
    assert best.placements == (Placement(KNOWN_NEXT_LINE, KNOWN_NEXT_LINES),)
    assert best.program == KNOWN_PROGRAM
    assert best.score < 0
    assert result.duplicates == 3 and len(result.suggestions) == 1


def test_positions_refer_to_the_callers_lines_even_with_leading_blank_lines(loaded):
    buffer = "\n\n" + KNOWN_STATES[2] + "\n"
    best = suggest(loaded, buffer, instruction=KNOWN_INSTRUCTION, k=1, temperature=0).suggestions[0]
    assert best.placements == (Placement(KNOWN_NEXT_LINE + 2, KNOWN_NEXT_LINES),)
    assert best.program == "\n\n" + KNOWN_PROGRAM + "\n"


def test_an_edit_that_adds_an_error_is_dropped_and_counted(bad_model_dir):
    bad = load_model(bad_model_dir, device="cpu")
    result = suggest(bad, KNOWN_STATES[2], instruction=KNOWN_INSTRUCTION, k=3, temperature=0)
    assert result.suggestions == []
    assert result.dropped_invalid == 3
    assert result.buffer_error is None


def test_a_buffer_that_does_not_parse_gets_a_clear_error_instead_of_a_guess(loaded):
    result = suggest(loaded, "def f(:\n    pass\n", k=2)
    assert result.suggestions == []
    assert result.buffer_error == "buffer does not parse: line 1: invalid syntax"


def test_the_import_a_buffer_lacks_is_offered_first_beside_the_models_edits(loaded):
    buffer = (
        KNOWN_STATES[2]
        + "\n\ndef quiet(path):\n    with contextlib.suppress(OSError):\n        return open(path)\n"
    )
    result = suggest(loaded, buffer, instruction=KNOWN_INSTRUCTION, k=2, seed=0)
    first, *rest = result.suggestions
    assert first.program == "import contextlib\n" + buffer and first.score == 0.0
    assert [p.line for p in first.placements] == [0]
    assert all(s.program != first.program for s in rest)  # the model's own edits follow, if any


def test_a_cancelled_suggestion_raises_cancelled(loaded):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        suggest(loaded, KNOWN_STATES[2], instruction=KNOWN_INSTRUCTION, cancel=cancel)


def test_malformed_output_is_dropped_and_counted_never_raised():
    outputs = [
        ("no hunk here", -0.1),
        ("@@ -9,0 +10 @@\n+x = 1", -0.2),
        ("@@ -1 +1 @@\n-x\n+y", -0.3),
        ("", -0.4),
    ]
    result = validate("x = 1", outputs)
    assert result.suggestions == []
    assert result.dropped_malformed == 4


def test_a_hunk_header_that_miscounts_its_rows_is_read_by_its_rows_and_rendered_right():
    buffer = "def f(xs):\n    total = 0\n    return total"
    miscounted = "@@ -2,0 +3 @@\n+    for x in xs:\n+        total += x"
    result = validate(
        buffer, [(miscounted, -0.5), ("@@ -2,0 +3 @@\n+    for x in xs:\n    total += x", -0.6)]
    )
    (suggestion,) = result.suggestions
    assert suggestion.placements == (Placement(2, ("    for x in xs:", "        total += x")),)
    assert suggestion.edit_text == "@@ -2,0 +3,2 @@\n+    for x in xs:\n+        total += x"
    assert parse_edit(suggestion.edit_text).added_lines == 2
    # A row that is not a + row is still malformed: only the header's counts are read leniently.
    assert (result.recounted, result.dropped_malformed) == (1, 1)


def test_edits_written_without_the_hidden_docstring_are_placed_and_rendered_against_the_buffer():
    buffer = 'def f(xs):\n    """Sum of squares."""\n    total = 0\n    return total'
    # The prompt showed "def f(xs):\n    total = 0\n    return total": the edit inserts before its line 3.
    result = validate(
        buffer, [("@@ -2,0 +3,2 @@\n+    for x in xs:\n+        total += x * x", -0.1)], hidden=(1,)
    )
    (suggestion,) = result.suggestions
    assert suggestion.placements == (Placement(3, ("    for x in xs:", "        total += x * x")),)
    assert suggestion.edit_text == "@@ -3,0 +4,2 @@\n+    for x in xs:\n+        total += x * x"
    assert suggestion.program.splitlines()[1:4] == [
        '    """Sum of squares."""',
        "    total = 0",
        "    for x in xs:",
    ]
    # An edit right after the def line goes after the docstring, never inside it.
    result = validate(buffer, [("@@ -1,0 +2 @@\n+    total = 1", -0.1)], hidden=(1,))
    assert result.suggestions[0].placements == (Placement(2, ("    total = 1",)),)


def test_an_edit_that_only_adds_unreachable_code_is_dropped_as_invalid():
    buffer = "def f(xs):\n    total = 0\n    return total\n\n\nprint(f([]))"
    after_return = ("@@ -3,0 +4,2 @@\n+    for x in xs:\n+        total += x", -0.1)
    before_return = ("@@ -2,0 +3,2 @@\n+    for x in xs:\n+        total += x", -0.2)
    module_level = ("@@ -6,0 +7 @@\n+print(f([1]))", -0.3)
    result = validate(buffer, [after_return, before_return, module_level])
    assert [s.placements[0].line for s in result.suggestions] == [2, 6]
    assert result.dropped_invalid == 1


def _dead_lines_by_walking_everything(program: str) -> set[int]:
    """The oracle: every 0-based line of a statement after a return/raise/break/continue of its block."""
    dead: set[int] = set()
    for node in ast.walk(ast.parse(program)):
        for block in (getattr(node, name, None) for name in ("body", "orelse", "finalbody")):
            if isinstance(block, list):
                cut = next((i for i, st in enumerate(block) if isinstance(st, _TERMINAL)), None)
                for statement in block[cut + 1 :] if cut is not None else ():
                    dead.update(range(statement.lineno - 1, statement.end_lineno))
    return dead


_BODY = "def f(xs):\n    for x in xs:\n        if x:\n            continue\n        y = x\n    try:\n        pass\n    finally:\n        z = 1\n    return xs\n\n\nclass C:\n    def m(self):\n        raise ValueError\n"
_SNIPPETS = [
    "    return 1",
    "        break",
    "    q = 2",
    "        raise E",
    "            w = 3",
    "x = 4",
    "    pass",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_BODY.split("\n"))), st.sampled_from(_SNIPPETS)), min_size=1, max_size=3
    )
)
def test_unreachable_insertions_are_found_as_a_walk_of_the_whole_tree_finds_them(inserts):
    lines = _BODY.split("\n")
    placements = tuple(Placement(at, (text,)) for at, text in sorted(inserts))
    program = insert_placements(_BODY, placements)
    try:
        dead = _dead_lines_by_walking_everything(program)
    except SyntaxError:
        return
    shift, inserted = 0, set()
    for placement in placements:
        inserted.add(placement.line + shift)
        shift += 1
    assert len(lines) + len(placements) == len(program.split("\n"))
    assert adds_unreachable_code(program, placements) == bool(dead & inserted)
    # The validation path: the trees come from the incremental check of the candidate, not a parse.
    linted = BufferLint(_BODY)
    linted.adds_errors(program)
    assert linted.adds_unreachable_code(program, placements) == bool(dead & inserted)


def test_output_cut_off_by_the_token_limit_counts_as_malformed(loaded):
    result = suggest(
        loaded, KNOWN_STATES[2], instruction=KNOWN_INSTRUCTION, k=2, temperature=0, max_new_tokens=10
    )
    assert result.suggestions == []
    assert result.dropped_malformed == 2


def test_pre_existing_errors_do_not_block_a_suggestion():
    buffer = "print(undefined)"
    result = validate(buffer, [("@@ -1,0 +2 @@\n+x = 1", -0.5)])
    assert [s.program for s in result.suggestions] == ["print(undefined)\nx = 1"]


def test_candidates_with_the_same_program_are_merged_keeping_the_best_score():
    outputs = [
        ("@@ -1,0 +2 @@\n+y = x", -2.0),
        ("@@ -1,0 +2 @@\n+y = x", -0.5),
        ("@@ -1,0 +2 @@\n+z = x", -1.0),
    ]
    result = validate("x = 1", outputs)
    assert [(s.edit_text[-5:], s.score) for s in result.suggestions] == [("y = x", -0.5), ("z = x", -1.0)]
    assert result.duplicates == 1


def test_hunks_are_placed_relative_to_the_original_buffer():
    edit = parse_edit("@@ -0,0 +1 @@\n+import os\n@@ -2,0 +4 @@\n+c = 3")
    placements, program = placements_for("a = 1\nb = 2\nd = 4", edit)
    assert placements == (Placement(0, ("import os",)), Placement(2, ("c = 3",)))
    assert program == "import os\na = 1\nb = 2\nc = 3\nd = 4"


def test_whole_sequences_from_an_instruction_reproduce_the_known_program(loaded):
    candidates = generate_sequences(loaded, KNOWN_INSTRUCTION, k=4, seed=0)
    assert [c.program for c in candidates] == [KNOWN_PROGRAM]
    best = candidates[0]
    assert best.valid and all(best.step_valid)
    assert best.steps[-1].program == KNOWN_PROGRAM
    assert best.steps[0].placements[0].line == 0


def test_whole_sequences_continue_a_starting_buffer(loaded):
    candidates = generate_sequences(loaded, KNOWN_INSTRUCTION, start=KNOWN_STATES[2], k=1, temperature=0)
    assert [c.program for c in candidates] == [KNOWN_PROGRAM]
    assert [s.edit_text for s in candidates[0].steps] == [KNOWN_EDITS[2]]


def test_replay_keeps_per_step_validity():
    text = "@@ -0,0 +1 @@\n+x = 1\n<|diff|>@@ -1,0 +2 @@\n+y = nowhere\n<|diff|>@@ -2,0 +3 @@\n+z = x"
    candidate = replay("", text)
    assert candidate.step_valid == (True, False, True)
    assert not candidate.valid
    assert candidate.program == "x = 1\ny = nowhere\nz = x"


def test_replay_moves_a_step_that_breaks_the_buffer_to_the_nearest_line_where_it_parses():
    start = "def f(xs):\n    for x in xs:\n        if x:\n            return x"
    text = "@@ -3,0 +4 @@\n+    return None"  # between `if x:` and its body
    stated = replay(start, text, repair=False)
    assert stated.step_valid == (False,) and stated.moved == 0
    moved = replay(start, text)
    assert moved.moved == 1 and moved.step_valid == (True,)
    assert moved.program == start + "\n    return None"
    # The step the editor applies is the moved one, positioned in the buffer's own lines.
    [step] = moved.steps
    assert step.edit_text == "@@ -4,0 +5 @@\n+    return None"
    assert [(p.line, p.lines) for p in step.placements] == [(4, ("    return None",))]
    assert moved.as_dict()["moved"] == 1


_BUFFERS = [
    "",
    "x = 1",
    "def f(a):\n    return a",
    "import os\n\nprint(os.sep)",
    "for i in range(3):\n    pass",
]
_ROWS = st.sampled_from(
    [
        "+x = 1",
        "+y = x",
        "+    return a",
        "+def g():",
        "+print(q)",
        "+    pass",
        "+if x:",
        "+",
        "-x = 1",
        " ctx",
        "+)",
    ]
)
_HEADERS = st.builds(
    lambda a, b, c, d: f"@@ -{a},{b} +{c},{d} @@", *[st.integers(0, 5)] * 4
) | st.sampled_from(["@@ bogus", "@@ -1 +2 @@", "garbage"])
_EDITS = st.lists(st.tuples(_HEADERS, st.lists(_ROWS, max_size=4)), min_size=0, max_size=3).map(
    lambda hunks: "\n".join("\n".join([h, *rows]) for h, rows in hunks)
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_BUFFERS),
    st.lists(st.tuples(_EDITS | st.text(max_size=40), st.floats(-5, 0)), max_size=5),
)
def test_every_returned_suggestion_passes_the_lint_check(buffer, outputs):
    result = validate(buffer, outputs)
    assert len(
        result.suggestions
    ) + result.dropped_malformed + result.dropped_invalid + result.duplicates == len(outputs)
    for suggestion in result.suggestions:
        assert not lint.new_errors(buffer, suggestion.program)
        lines = buffer.split("\n") if buffer.strip() else []
        for placement in sorted(suggestion.placements, key=lambda p: p.line, reverse=True):
            lines[placement.line : placement.line] = placement.lines
        assert "\n".join(lines) == suggestion.program


def test_the_suggest_command_prints_the_known_edit_as_json(tiny_model_dir, tmp_path):
    import json

    from typer.testing import CliRunner

    from training.cli import app

    source = tmp_path / "known.py"
    source.write_text(KNOWN_STATES[2] + "\n")
    args = [
        "suggest",
        str(source),
        "--model",
        str(tiny_model_dir),
        "--instruction",
        KNOWN_INSTRUCTION,
        "--json",
    ]
    result = CliRunner().invoke(app, [*args, "-k", "2", "--temperature", "0"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["suggestions"][0]["placements"] == [
        {"line": KNOWN_NEXT_LINE, "lines": list(KNOWN_NEXT_LINES)}
    ]


def test_the_suggest_command_reports_a_missing_file(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from training.cli import app

    result = CliRunner().invoke(app, ["suggest", str(tmp_path / "nope.py"), "--model", str(tiny_model_dir)])
    assert result.exit_code == 1
    assert "cannot read" in result.output
