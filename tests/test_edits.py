"""The LintSeq edit-sequence format: render, parse (strict and lenient), apply and resolve."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from model_runtime import edits
from model_runtime.edits import EditApplyError, EditFormatError

# Code-like lines: never empty at either end (states are compared after strip()), never holding the separator.
_LINE = st.text(alphabet="abcxyz_=()[]:.,+-*/#@ 0123456789'\"", min_size=1, max_size=20).map(
    lambda s: "x" + s.rstrip() if s.strip() else "x"
)
_INDENTED = st.tuples(st.sampled_from(["", "    ", "        "]), _LINE).map("".join)
_INSTRUCTION = st.text(alphabet="abc XYZ.,?\n", max_size=30).filter(lambda s: "<|" not in s)


@st.composite
def growing_states(draw) -> list[str]:
    """Program states from empty to full, each a subsequence of the next (an insertion-only history)."""
    final = draw(st.lists(_INDENTED, min_size=1, max_size=12))
    final[0] = final[0].lstrip()  # the first line of a state is never indented (strip() would change it)
    order = draw(st.permutations(range(len(final))))
    cuts = sorted(draw(st.sets(st.integers(1, len(final)), max_size=len(final))) | {len(final)})
    states = [""]
    for cut in cuts:
        present = sorted(order[:cut])
        if present and present[0] != 0:
            present = [0, *present]  # keep the unindented first line first
        states.append("\n".join(final[i] for i in sorted(set(present))))
    return states


def _distinct(states: list[str]) -> list[str]:
    kept = [states[0]]
    for s in states[1:]:
        if edits.normalise(s) != edits.normalise(kept[-1]):
            kept.append(s)
    return kept


@settings(max_examples=200, deadline=None)
@given(states=growing_states(), instruction=_INSTRUCTION)
# difflib aligns these repeated lines into a replacement; the edit must still be the pure insertion.
@example(states=["", "x0\nx0\n    x0", "x0\nx00\nx0\n    x0\nx0\nx0\nx0\nx0"], instruction="")
def test_states_survive_render_parse_and_resolve(states, instruction):
    texts = edits.edits_from_states(states)
    rendered = edits.render_sequence(instruction, texts)
    sequence = edits.parse_sequence(rendered, strict=True)
    assert sequence.instruction == instruction
    assert sequence.states() == ["\n".join(edits.normalise(s)) for s in _distinct(states)]
    assert edits.resolve(rendered, strict=True) == "\n".join(edits.normalise(states[-1]))


@settings(max_examples=200, deadline=None)
@given(states=growing_states())
def test_edits_between_growing_states_are_insertions(states):
    for text in edits.edits_from_states(states):
        assert edits.parse_edit(text).is_insertion


@settings(max_examples=100, deadline=None)
@given(states=growing_states(), instruction=_INSTRUCTION)
def test_an_edit_renders_back_to_its_own_text(states, instruction):
    for text in edits.edits_from_states(states):
        assert edits.parse_edit(text).render() == text


@settings(max_examples=100, deadline=None)
@given(states=growing_states(), instruction=_INSTRUCTION)
def test_what_a_model_writes_after_the_prompt_is_well_formed_until_an_edit_points_past_the_end(
    states, instruction
):
    from training.evaluation.edit_format import well_formed

    rendered = edits.render_sequence(instruction, edits.edits_from_states(states))
    generated = rendered[len(edits.prompt(instruction)) :]
    assert well_formed(generated)
    past_end = len(edits.normalise(states[-1])) + 2
    assert not well_formed(generated + f"@@ -{past_end - 1},0 +{past_end} @@\n+x = 1")


def test_the_training_text_is_the_reference_format():
    text = edits.training_text("Add two numbers.", ["@@ -0,0 +1 @@\n+def add(a, b):"], eos="</s>")
    assert text == "Add two numbers.\n<|diff|>@@ -0,0 +1 @@\n+def add(a, b):\n<|diff|>\n<|diff|></s>"


def test_the_prompt_ends_with_the_first_separator():
    assert edits.prompt("Do it.") == "Do it.\n<|diff|>"


def test_the_baseline_text_is_instruction_newline_program_eos():
    assert edits.baseline_text("Do it.", "x = 1", eos="<e>") == "Do it.\nx = 1<e>"


def test_diff_headers_match_difflib_for_one_and_several_lines():
    assert edits.diff_states("a\nc", "a\nb\nc") == "@@ -1,0 +2 @@\n+b"
    assert edits.diff_states("a", "a\nb\nc") == "@@ -1,0 +2,2 @@\n+b\n+c"


def test_equal_states_give_no_edit():
    assert edits.diff_states("x = 1\n", "\nx = 1") == ""
    assert edits.edits_from_states(["", "x", " x "]) == ["@@ -0,0 +1 @@\n+x"]


def test_one_edit_may_hold_several_hunks():
    edit = edits.parse_edit("@@ -0,0 +1 @@\n+a\n@@ -1,0 +3 @@\n+c")
    assert [h.new_start for h in edit.hunks] == [1, 3]
    assert edits.apply_edit("b", edit) == "a\nb\nc"


def test_strict_parsing_names_the_edit_and_hunk_of_a_bad_header():
    text = "Task\n<|diff|>@@ -0,0 +1 @@\n+a\n<|diff|>@@ -1,0 +2 @@\n+b\n@@ nonsense\n+c\n<|diff|>\n<|diff|>"
    with pytest.raises(EditFormatError) as caught:
        edits.parse_sequence(text, strict=True)
    assert (caught.value.edit_index, caught.value.hunk_index) == (1, 1)
    assert str(caught.value).startswith("edit 2, hunk 2: bad hunk header")


def test_strict_parsing_rejects_a_count_that_does_not_match_the_body():
    with pytest.raises(EditFormatError, match=r"promises -0 \+2 lines, body has -0 \+1"):
        edits.parse_edit("@@ -0,0 +1,2 @@\n+a")


def test_strict_parsing_rejects_a_row_without_a_sign():
    with pytest.raises(EditFormatError, match="neither an added nor a removed line"):
        edits.parse_edit("@@ -0,0 +1,2 @@\n+a\n b")


def test_strict_parsing_rejects_an_edit_without_hunks():
    with pytest.raises(EditFormatError, match="no hunks"):
        edits.parse_edit("\n")


def test_strict_parsing_rejects_text_that_is_not_a_hunk():
    with pytest.raises(EditFormatError, match="bad hunk header 'just words'"):
        edits.parse_edit("just words")


def test_lenient_parsing_skips_malformed_hunks_and_keeps_the_rest():
    text = (
        "T\n<|diff|>@@ -0,0 +1 @@\n+a\n@@ broken\n+zzz\n<|diff|>garbage\n<|diff|>@@ -1,0 +2 @@\n+b\n<|diff|>"
    )
    sequence = edits.parse_sequence(text, strict=False)
    assert [len(e.hunks) for e in sequence.edits] == [1, 1]
    assert sequence.program() == "a\nb"


def test_lenient_parsing_reads_a_hunk_whose_counts_are_wrong_by_its_start_and_rows():
    (hunk,) = edits.parse_edit("@@ -0,0 +1,5 @@\n+a\n+b", strict=False).hunks
    assert (hunk.new_start, hunk.added) == (1, ("a", "b"))


def test_parsing_stops_at_eos():
    text = "T\n<|diff|>@@ -0,0 +1 @@\n+a\n<|diff|>\n<|diff|></s>@@ -0,0 +1 @@\n+junk"
    assert edits.resolve(text, eos="</s>") == "a"


def test_apply_rejects_a_hunk_that_deletes():
    with pytest.raises(EditApplyError, match="deletes lines"):
        edits.apply_edit("a\nb", "@@ -1 +0,0 @@\n-a")


def test_apply_rejects_a_hunk_past_the_end_of_the_program():
    with pytest.raises(EditApplyError, match="inserts at line 5 but the program has only 2 lines"):
        edits.apply_edit("a\nb", "@@ -4,0 +5 @@\n+x")


def test_apply_may_append_right_after_the_last_line():
    assert edits.apply_edit("a\nb", "@@ -2,0 +3 @@\n+c") == "a\nb\nc"


def test_lenient_resolve_skips_hunks_that_cannot_apply():
    text = "T\n<|diff|>@@ -0,0 +1 @@\n+a\n<|diff|>@@ -1 +0,0 @@\n-a\n<|diff|>@@ -8,0 +9 @@\n+far\n<|diff|>@@ -1,0 +2 @@\n+b"
    assert edits.resolve(text) == "a\nb"


def test_strict_resolve_raises_on_a_hunk_that_cannot_apply():
    with pytest.raises(EditApplyError):
        edits.resolve("T\n<|diff|>@@ -8,0 +9 @@\n+far\n<|diff|>", strict=True)


def test_resolve_continues_from_a_starting_buffer():
    assert edits.resolve("T\n<|diff|>@@ -1,0 +2 @@\n+b\n<|diff|>", start="a\n") == "a\nb"


def test_program_states_start_from_the_empty_program():
    sequence = edits.parse_sequence(
        "T\n<|diff|>@@ -0,0 +1 @@\n+a\n<|diff|>@@ -1,0 +2 @@\n+b\n<|diff|>\n<|diff|>"
    )
    assert sequence.states() == ["", "a", "a\nb"]


_STATE = st.lists(st.sampled_from(["a = 1", "b = 2", "pass", "return x", "    y"]), min_size=1, max_size=25)


@given(_STATE, _STATE)
def test_a_trimmed_diff_still_turns_one_state_into_the_other(a, b):
    from model_runtime.prompts import program_states_of

    before, after = "\n".join(["def f(x):", *a]), "\n".join(["def f(x):", *b])
    diff = edits.diff_states(before, after, trim=True)
    assert (program_states_of(before, [diff])[-1] if diff else before) == after


@given(_STATE, st.data())
def test_a_trimmed_diff_of_an_insertion_is_an_insertion(a, data):
    at = data.draw(st.integers(0, len(a)))
    b = a[:at] + data.draw(_STATE) + a[at:]
    before, after = "\n".join(["def f(x):", *a]), "\n".join(["def f(x):", *b])
    edit = edits.parse_edit(edits.diff_states(before, after, trim=True))
    assert all(hunk.is_insertion for hunk in edit.hunks)
    assert edits.apply_edit(before, edit) == after
