"""Lines after which ``continue``'s answer cannot come back to the buffer's next line: the rule, and a real model
stopped by it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from model_runtime.strategies.divergence import line_stop, open_at_end
from model_runtime.suggestions import suggest
from tests.test_strategies import _continuing

LOOP = "def pick(xs):\n    for x in xs:\n        if x:\n"
NEXT = "            return x"


def test_open_at_end_tells_a_string_from_brackets_from_a_finished_line():
    assert open_at_end('def f():\n    """Doc\n') == "string"
    assert open_at_end("x = f(\n    1,\n") == "brackets"
    assert open_at_end("x = 1\nif x:\n") is None
    assert open_at_end("  x\n y\n") == "error"


def test_a_code_line_indented_less_than_the_next_line_rules_the_answer_out():
    check = line_stop(LOOP, NEXT)
    assert check(["        y = 1"])  # the next line would be an unexpected indent after it
    assert check(["    return None"])


def test_lines_the_next_line_can_follow_are_not_ruled_out():
    check = line_stop(LOOP, NEXT)
    assert not check(["            y = 1"])  # the same block
    assert not check(["        elif x is None:"])  # opens a block
    assert not check(["        else:  # the rest"])
    assert not check(["    # a comment"])
    assert not check([""])
    assert not check(["            call(1,", "    2)"])  # inside the answer's own brackets


def test_inside_a_docstring_closing_it_rules_the_answer_out():
    check = line_stop('def one():\n    """One.\n', "    More.")
    assert not check(["    Two."])
    assert check(["    Two.", '    """'])
    assert check(["    '''"])


def test_nothing_is_ruled_out_inside_brackets_at_the_end_or_in_code_that_does_not_tokenize():
    assert line_stop("x = f(\n", "    2)") is None
    assert line_stop(LOOP, None) is None
    assert line_stop("def f():\n  x = 1\n y = 2\n", "    z") is None


@given(st.integers(0, 12), st.from_regex(r"[a-z]{1,8} = [0-9]{1,3}", fullmatch=True))
def test_a_line_at_least_as_deep_as_the_next_one_is_never_ruled_out(extra, statement):
    check = line_stop(LOOP, NEXT)
    assert not check([" " * (12 + extra) + statement])


BUFFER = "def pick(xs):\n    for x in xs:\n        if x:\n            return x\n    return None\n"
DOC = 'def one():\n    """One.\n\n    More.\n    """\n    return 1\n'


def _tokens(model, text: str) -> int:
    return len(model.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_continue_stops_decoding_at_a_dedented_line(tmp_path):
    dedented = "        y = 1\n"  # below `return x`'s indentation, opening no block
    model = _continuing(
        tmp_path, dedented + "        z = y * 2\n        w = z * 3\n        v = w * 4", BUFFER, 3
    )
    result = suggest(model, BUFFER, line=3, k=1, temperature=0, strategy="continue")
    assert result.suggestions == [] and result.non_insertions == 1
    assert result.timings.new_tokens <= _tokens(model, dedented)


def test_continue_stops_decoding_where_a_docstring_it_is_inside_gets_closed(tmp_path):
    closed = '    Two.\n    """\n'
    model = _continuing(tmp_path, closed + "    return 2\n    return 3\n    return 4", DOC, 2)
    result = suggest(model, DOC, line=2, k=1, temperature=0, strategy="continue")
    assert result.suggestions == [] and result.non_insertions == 1
    assert result.timings.new_tokens <= _tokens(model, closed)
