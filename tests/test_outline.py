"""Outlines: what prompts read of a buffer's syntax. A document's tracked outline, parsed again only around each
edit, must read exactly as a fresh parse does."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_runtime.outline import OutlineTracker, outline_of
from model_runtime.prompts import build_prompt, docstring_lines, prompt_focus
from tests.test_incremental_lint import _source, edit_sequences

BIG = "".join(f'def f{i}(x):\n    """Add {i}."""\n    return x + {i}\n\n' for i in range(1250))  # 5,000 lines


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sequences(), st.lists(st.floats(min_value=0, max_value=1), min_size=3, max_size=3))
def test_a_tracked_outline_reads_as_a_fresh_parse_after_random_edits(case, fractions):
    name, texts = case
    tracker = OutlineTracker()
    for text in [_source(name), *texts]:
        tracked, fresh = tracker.outline(text), outline_of(text)
        assert (tracked is None) == (fresh is None)
        if fresh is None:
            continue
        assert tracked.spans() == fresh.spans()
        assert tracked.docstring() == fresh.docstring()
        for fraction in fractions:
            line = int(fraction * (len(text.split("\n")) - 1))
            assert prompt_focus(text, line, 80, tracked) == prompt_focus(text, line, 80, fresh)
            assert docstring_lines(text, line, tracked) == docstring_lines(text, line, fresh)
        line = int(fractions[0] * (len(text.split("\n")) - 1))
        assert build_prompt(text, line=line, window=80, tree=tracked) == build_prompt(
            text, line=line, window=80
        )


def test_a_one_line_edit_of_a_big_file_parses_a_few_lines_and_the_prompt_is_the_same():
    tracker = OutlineTracker()
    tracker.outline(BIG)
    assert tracker.last_parsed == len(BIG.split("\n"))
    lines = BIG.split("\n")
    lines.insert(4002, "    y = x")  # inside f1000, after its docstring
    edited = "\n".join(lines)
    tracked = tracker.outline(edited)
    assert 0 < tracker.last_parsed <= 10
    assert build_prompt(edited, line=4002, window=80, tree=tracked) == build_prompt(
        edited, line=4002, window=80
    )
    assert prompt_focus(edited, 4002, 80, tracked)[0].startswith("def f1000(x):")


def test_a_version_that_does_not_parse_keeps_the_last_outline_to_splice_from():
    tracker = OutlineTracker()
    tracker.outline(BIG)
    lines = BIG.split("\n")
    lines.insert(4002, "    y = (")
    assert tracker.outline("\n".join(lines)) is None
    lines[4002] = "    y = (x)"
    assert tracker.outline("\n".join(lines)) is not None
    assert tracker.last_parsed <= 10


def test_carriage_returns_are_parsed_in_full_and_nothing_is_kept_to_splice_from():
    tracker = OutlineTracker()
    tracker.outline(BIG)
    text = BIG.replace("\n", "\r\n", 3)
    assert tracker.outline(text).spans() == outline_of(text).spans()
    tracker.outline(BIG)  # after a full-parse version, the next one is parsed in full too
    assert tracker.last_parsed == len(BIG.split("\n"))
