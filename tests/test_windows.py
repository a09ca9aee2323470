"""Prompt windows: a long buffer shows the model the top-level statement around the cursor, within a line budget,
and suggestions made from the window land on the right lines of the whole buffer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_runtime import lint
from model_runtime.edits import diff_states
from model_runtime.loading import load_model
from model_runtime.prompts import build_prompt
from model_runtime.suggestions import Placement, suggest
from model_runtime.windows import top_level_spans, window_span, window_states
from tests.support.tiny_model import KNOWN_INSTRUCTION, KNOWN_NEXT_LINE, KNOWN_NEXT_LINES, KNOWN_STATES


def _functions(first: int, count: int) -> str:
    return "\n\n".join(f"def g{i}(x):\n    y = x + {i}\n    return y" for i in range(first, first + count))


LONG = _functions(
    0, 30
)  # 30 functions of 3 lines and a blank line after each: g_i on lines 4i..4i+2, 119 lines


def test_a_short_buffer_is_shown_whole():
    assert window_span("x = 1\ny = 2", 0, 80) == range(2)
    assert window_span(LONG, 10, 0) == range(len(LONG.split("\n")))


def test_the_function_around_the_cursor_is_shown_with_whole_functions_before_it_that_fit():
    g10 = top_level_spans(lint.parse(LONG))[10]
    assert g10 == range(40, 43)
    assert window_span(LONG, 41, 8) == range(36, 43)  # g9, the blank line, g10
    assert window_span(LONG, 41, 12) == range(32, 43)  # and g8
    assert window_span(LONG, 41, 3) == range(40, 43)


def test_a_function_longer_than_the_window_is_cut_around_the_cursor():
    body = "\n".join(f"    a{i} = {i}" for i in range(100))
    buffer = f"import os\n\n\ndef big():\n{body}\n    return os"
    span = window_span(buffer, 60, 20)
    assert len(span) == 20 and 60 in span and span.start >= 3


def test_typing_inside_a_long_function_moves_the_window_once_a_grid_step():
    """The per-document prompt cache reuses the prompt up to the first changed line: a window start that moved
    with each line typed would make it reuse nothing."""
    lines = ["def big():"] + [f"    a{i} = {i}" for i in range(100)] + ["    return 0"]
    starts = []
    for typed in range(40):  # type 40 lines at line 50, the cursor following them
        cursor = 50 + typed
        lines.insert(cursor, f"    b{typed} = 0")
        starts.append(window_span("\n".join(lines), cursor, 20).start)
    assert len(set(starts)) <= 40 // 5 + 1  # the grid step is 20 // 4 lines
    assert all(cursor - start >= 10 for cursor, start in zip(range(50, 90), starts, strict=True))


def test_in_the_blank_lines_after_a_function_the_window_ends_at_the_cursor():
    buffer = LONG + "\n\n\n"
    cursor = len(buffer.split("\n")) - 1
    span = window_span(
        buffer, cursor, 12
    )  # 3 blank lines, then whole functions in steps of 3 lines: g29, g28
    assert span.stop == cursor + 1 and span.start == top_level_spans(lint.parse(buffer))[-2].start


def test_typing_in_a_short_function_seldom_changes_the_functions_shown_above_it():
    lines = [f"x{i} = {i}" for i in range(30)] + ["def f():", "    return 0", "", "y = 1"]
    starts = []
    for typed in range(
        8
    ):  # f grows from 2 to 10 lines; one more assignment above would no longer fit each time
        lines.insert(31 + typed, f"    z{typed} = 0")
        starts.append(window_span("\n".join(lines), 31 + typed, 16).start)
    assert len(set(starts)) <= 3  # a step is 4 lines: at most one change per step


@given(st.integers(0, 160), st.integers(1, 60))
def test_the_window_holds_the_cursor_and_never_exceeds_its_budget(line, size):
    span = window_span(LONG, line, size)
    count = len(LONG.split("\n"))
    assert 0 <= span.start < span.stop <= count and len(span) <= max(size, 0)
    assert min(line, count - 1) in span


def test_the_prompt_of_a_long_buffer_leaves_the_far_functions_out():
    prompt = build_prompt(LONG, instruction="", line=41, window=8)
    assert "g10" in prompt.text and "g9" in prompt.text
    assert "g8" not in prompt.text and "g11" not in prompt.text
    assert prompt.append_at == 43 and len(prompt.hidden) == 119 - 7


def test_states_are_cut_to_the_window_unless_one_differs_outside_it():
    states = ["a\nb\nc\nz", "a\nb\nc\nd\nz", "a\nb\nc\nd\ne\nz"]
    assert window_states(states, 2, 1) == ["c", "c\nd", "c\nd\ne"]
    assert window_states(["b\nc\nz", *states[1:]], 2, 1) is None  # the first state differs above the window


def _with_line(text: str, at: int, new: str) -> str:
    lines = text.split("\n")
    lines.insert(at, new)
    return "\n".join(lines)


def test_recent_edits_inside_the_window_stay_in_the_prompt():
    before = _with_line(LONG, 42, "    z = y")  # in g10
    history = [diff_states(LONG, before)]
    prompt = build_prompt(before, instruction="", line=41, window=9, history=history)
    assert prompt.edits[-1] == "@@ -6,0 +7 @@\n+    z = y"  # g9 (5 lines with the blank), then g10's lines
    assert "    z = y" not in prompt.edits[0] and "g8" not in prompt.text


def test_recent_edits_outside_the_window_are_left_out():
    before = _with_line(LONG, 2, "    z = y")  # in g0, far above the window
    prompt = build_prompt(before, instruction="", line=42, window=9, history=[diff_states(LONG, before)])
    assert len(prompt.edits) == 1 and "z = y" not in prompt.text


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(tiny_model_dir, device="cpu")


def test_the_known_next_edit_is_found_in_a_long_file_and_placed_on_its_lines(loaded):
    """The tiny model knows one function; inside a long file, the window shows it just that function, and the
    suggestion lands inside it in the whole buffer, with the functions after it untouched."""
    known = KNOWN_STATES[2]
    before, after = _functions(0, 20), _functions(100, 20)
    buffer = f"{before}\n\n\n{known}\n\n\n{after}"
    offset = len(before.split("\n")) + 2
    size = len(known.split("\n"))
    result = suggest(
        loaded,
        buffer,
        line=offset + 1,
        instruction=KNOWN_INSTRUCTION,
        k=2,
        temperature=0,
        window=size,
    )
    best = result.suggestions[0]
    assert best.placements == (Placement(offset + KNOWN_NEXT_LINE, KNOWN_NEXT_LINES),)
    lines = buffer.split("\n")
    lines[offset + KNOWN_NEXT_LINE : offset + KNOWN_NEXT_LINE] = KNOWN_NEXT_LINES
    assert best.program == "\n".join(lines)
