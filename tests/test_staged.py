"""Greedy first, samples after (model_runtime.staged): what each pass asks for, and how the second pass's
suggestions join the first's, on real validated suggestions."""

from __future__ import annotations

from model_runtime.edits import diff_states
from model_runtime.staged import FIRST_PASS, later_pass, merged, passes
from model_runtime.suggestions import validate

BUFFER = "def total(values):\n    result = 0\n    return result\n"
LOOP = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n"
PRINT = "def total(values):\n    result = 0\n    print(values)\n    return result\n"
BROKEN = "def total(values):\n    result = 0\n    result += missing\n    return result\n"
SUM = "def total(values):\n    result = 0\n    result = sum(values)\n    return result\n"


def validated(*programs_and_scores):
    outputs = [(diff_states(BUFFER, program, trim=True), score) for program, score in programs_and_scores]
    return validate(BUFFER, outputs)


def test_the_first_pass_is_one_greedy_candidate_and_the_second_the_rest_sampled():
    assert FIRST_PASS == {"k": 1, "temperature": 0.0}
    assert later_pass(3, 0.8) == {"k": 2, "temperature": 0.8}
    assert later_pass(1, 0.8) is None  # nothing more was asked for
    assert later_pass(3, 0.0) is None  # greedy again would give the same candidate


def test_a_request_makes_the_greedy_call_then_the_sampled_one_or_one_batch_without_greedy_first():
    assert passes(3, 0.8) == [FIRST_PASS, {"k": 2, "temperature": 0.8}]
    assert passes(1, 0.8) == [FIRST_PASS]
    assert passes(3, 0.8, greedy_first=False) == [{"k": 3, "temperature": 0.8}]


def test_the_first_suggestion_stays_first_and_new_programs_follow_best_first():
    first = validated((LOOP, -0.9))
    later = validated((PRINT, -0.5), (SUM, -0.2))
    both = merged(first, later)
    assert [s.program for s in both.suggestions] == [LOOP, SUM, PRINT]  # LOOP was shown: it keeps its place
    assert both.timings == first.timings


def test_a_sample_that_repeats_a_shown_program_is_counted_once_and_drops_are_added():
    first = validated((LOOP, -0.9))
    later = validated((LOOP, -0.1), (BROKEN, -0.3), ("not an edit", -0.2))
    both = merged(first, later)
    assert [s.program for s in both.suggestions] == [LOOP]
    assert both.duplicates == 1
    assert both.dropped_invalid == 1 and both.dropped_malformed == 1


def test_a_buffer_error_is_the_answer_whatever_the_second_pass_gave():
    first = validate("def broken(:\n", [])
    assert first.buffer_error
    assert merged(first, validated((LOOP, -0.1))) is first


def test_an_empty_first_pass_takes_the_second_passes_suggestions():
    assert [s.program for s in merged(validated(), validated((SUM, -0.2))).suggestions] == [SUM]
