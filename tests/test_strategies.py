"""Next-edit strategies: alignment, inference-time LintSeq steps, and each strategy end to end on a tiny model.

The tiny models are real (a 2-layer Llama over characters, trained in seconds to give one known answer), so each
test runs the real prompt, decode loop, alignment, decomposition and pyflakes validation.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_runtime import lint
from model_runtime.edits import normalise, parse_edit
from model_runtime.insertion_steps import align, insertion_states, lintseq_states
from model_runtime.strategies import continuation, default_strategy, fim, resolve, rewrite
from model_runtime.suggestions import placements_for, suggest
from tests.support import tiny_model

BUFFER = "def stats(xs):\n    result = []\n    return result\n"
ANSWER = "def stats(xs):\n    result = []\n    result.append(min(xs))\n    result.append(max(xs))\n    return result"
FINAL = ANSWER + "\n"
CHANGED = "def stats(xs):\n    result = list()\n    result.append(min(xs))\n    return result"
REGION = BUFFER.rstrip("\n")

PROGRAMS = [
    "import math\n\n\ndef norm(xs):\n    total = 0\n    for x in xs:\n        if x > 0:\n            total += x * x\n"
    "    return math.sqrt(total)",
    "def pairs(items):\n    out = []\n    for i, a in enumerate(items):\n        for b in items[i + 1 :]:\n"
    "            out.append((a, b))\n    return out\n\n\nclass Box:\n    def __init__(self, size):\n"
    "        self.size = size\n\n    def area(self):\n        return self.size**2",
    "def parse(text):\n    try:\n        value = int(text)\n    except ValueError:\n        value = None\n"
    "    # keep the sign\n    if value is not None and value < 0:\n        value = -value\n    return value",
]


def _rewrite_prompt() -> str:
    return rewrite.prompt_text(SimpleNamespace(tokenizer=tiny_model.build_tokenizer()), REGION)


def _answering(directory, answer: str):
    """A tiny model that answers the rewrite prompt for BUFFER with ``answer``, loaded."""
    from model_runtime.loading import load_model

    prompt = _rewrite_prompt()
    text = prompt + answer + "\n```" + tiny_model.EOS
    return load_model(tiny_model.build(directory, [text], prompts=[prompt], max_steps=1500), quantize="none")


@pytest.fixture(scope="module")
def rewrite_model(tmp_path_factory):
    """A tiny model whose rewrite adds two lines to BUFFER (ANSWER)."""
    return _answering(tmp_path_factory.mktemp("rewrite"), ANSWER)


@pytest.fixture(scope="module")
def changing_model(tmp_path_factory):
    """A tiny model whose rewrite changes a buffer line (``result = list()``): not an insertion."""
    return _answering(tmp_path_factory.mktemp("changing"), CHANGED)


def _continue_prompt(buffer: str, line: int | None) -> str:
    from model_runtime.strategies.base import Request

    loaded = SimpleNamespace(tokenizer=tiny_model.build_tokenizer())
    return continuation.layout(loaded, Request(buffer, line=line)).text


def _continuing(directory, continued: str, buffer: str = BUFFER, line: int = 2):
    """A tiny model that continues the ``continue`` prompt for ``buffer``, cursor on ``line``, with ``continued``."""
    from model_runtime.loading import load_model

    prompt = _continue_prompt(buffer, line)
    text = prompt + continued + "\n```" + tiny_model.EOS
    return load_model(tiny_model.build(directory, [text], prompts=[prompt], max_steps=1500), quantize="none")


@pytest.fixture(scope="module")
def continue_model(tmp_path_factory):
    """A tiny model that adds two lines at the cursor, then repeats the line after it (where it is stopped)."""
    return _continuing(tmp_path_factory.mktemp("continue"), ANSWER.split("result = []\n", 1)[1])


@pytest.fixture(scope="module")
def fim_model(tmp_path_factory):
    """A tiny model with FIM tokens that fills the middle before ``return result`` with one line."""
    from model_runtime.loading import load_model

    prompt = fim.prompt_text("def stats(xs):\n    result = []\n", "    return result\n")
    text = prompt + "    result.append(min(xs))\n" + tiny_model.EOS
    path = tiny_model.build(
        tmp_path_factory.mktemp("fim"),
        [text],
        prompts=[prompt],
        extra_tokens=(fim.PREFIX, fim.SUFFIX, fim.MIDDLE),
        max_steps=1500,
    )
    return load_model(path, quantize="none")


# -- alignment and decomposition (pure) -------------------------------------------------------------------------


def test_align_reads_a_pure_insertion():
    assert align(REGION.split("\n"), ANSWER.split("\n")) == [
        (2, ("    result.append(min(xs))", "    result.append(max(xs))"))
    ]


def test_align_refuses_an_answer_that_changes_a_line():
    assert align(REGION.split("\n"), CHANGED.split("\n")) is None


def test_align_keeps_blank_lines_the_answer_drops():
    region = ["def f():", "", "    return 1"]
    assert align(region, ["def f():", "    x = 1", "    return 1"]) == [(2, ("    x = 1",))]


def test_insertion_states_add_statements_in_order_a_block_whole_and_end_at_the_final_program():
    final = PROGRAMS[0]
    added = [
        not line.startswith(("import", "def", "    return")) and bool(line.strip())
        for line in final.split("\n")
    ]
    buffer = "\n".join(line for line, new in zip(final.split("\n"), added, strict=True) if not new)
    states = insertion_states(buffer, final, added)
    assert states[-1] == final
    # A block left without its body does not parse, so the loop arrives whole, after the line it needs.
    assert len(states) == 2
    assert "total = 0" in states[0] and "for x in xs:" not in states[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.sampled_from(PROGRAMS), data=st.data())
def test_any_insertion_splits_into_lint_clean_insertion_steps(program, data):
    lines = program.split("\n")
    added = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    buffer = "\n".join(line for line, new in zip(lines, added, strict=True) if not new)
    states = insertion_states(buffer, program, added)
    if not any(added):
        assert states == []
        return
    assert states[-1] == program
    final_is_clean = not lint.new_errors(buffer, program)
    previous = buffer
    for state in states:
        # every step only inserts lines: the state before is a subsequence of the state after
        it = iter(state.split("\n"))
        assert all(line in it for line in previous.split("\n") if previous)
        if final_is_clean:
            assert not lint.new_errors(buffer, state)
        previous = state


def test_lintseq_states_of_a_program_end_with_it():
    for program in PROGRAMS:
        states = lintseq_states(program)
        assert states[-1] == "\n".join(normalise(program))
        assert all(not lint.new_errors(program, state) for state in states)


def test_rewrite_keeps_only_used_named_imports_and_drops_example_calls():
    region = REGION.split("\n")
    inserts = [
        (0, ("from typing import *", "import math", "from typing import List", "def stats(xs):")),
        (2, ("    result.append(math.pi)",)),
        (3, ("", "print(stats([1]))")),
    ]
    assert rewrite.trim_inserts(region, inserts, region) == [
        (0, ("import math",)),
        (2, ("    result.append(math.pi)",)),
    ]


def test_fim_middle_drops_a_line_that_runs_into_the_suffix():
    lines = BUFFER.split("\n")
    assert fim.middle_lines("    x = 1\n    y = (", lines, 2, runs_on=True) == ["    x = 1"]
    assert fim.middle_lines("    if xs:\n", lines, 2, runs_on=True) == []


# -- strategies end to end on tiny models -----------------------------------------------------------------------


def test_rewrite_offers_the_added_lines_as_a_plan_of_steps(rewrite_model):
    result = suggest(rewrite_model, BUFFER, line=1, k=1, temperature=0, strategy="rewrite")
    assert result.strategy == "rewrite" and result.suggestions
    top = result.suggestions[0]
    assert top.final_program == FINAL
    assert len(top.steps) == 2
    program = BUFFER
    for step in top.steps:  # each step applies to the program the steps before it left, and adds no error
        _, program = placements_for(program, parse_edit(step))
        assert not lint.new_errors(BUFFER, program)
    assert program == FINAL
    assert top.program == BUFFER.replace("    return", "    result.append(min(xs))\n    return")
    assert set(top.as_dict()) >= {"edit", "placements", "program", "steps", "final_program"}


def test_rewrite_refuses_an_answer_that_changes_buffer_lines(changing_model):
    result = suggest(changing_model, BUFFER, line=1, k=1, temperature=0, strategy="rewrite")
    assert result.suggestions == [] and result.non_insertions == 1


def test_continue_writes_only_from_the_cursor_and_stops_at_the_next_line(continue_model):
    result = suggest(continue_model, BUFFER, line=2, k=1, temperature=0, strategy="continue")
    assert result.strategy == "continue" and result.suggestions
    top = result.suggestions[0]
    assert top.final_program == FINAL and len(top.steps) == 2
    new_lines = "    result.append(min(xs))\n    result.append(max(xs))\n"
    written = len(
        continue_model.tokenizer(new_lines + "    return result\n", add_special_tokens=False)["input_ids"]
    )
    assert (
        result.timings.new_tokens <= written
    )  # stopped on repeating `return result`, not at the closing fence


def test_continue_stops_at_once_when_the_model_repeats_the_line_after_the_cursor(tmp_path):
    model = _continuing(tmp_path, "    return result")
    result = suggest(model, BUFFER, line=2, k=1, temperature=0, strategy="continue")
    assert result.suggestions == [] and result.non_insertions == 0
    repeated = len(model.tokenizer("    return result\n", add_special_tokens=False)["input_ids"])
    assert result.timings.new_tokens <= repeated  # not on to the closing fence


def test_continue_stops_an_answer_that_skips_ahead_to_a_later_line(tmp_path):
    buffer = "def stats(xs):\n    result = []\n    result.append(len(xs))\n    result.append(sum(xs))\n    return result\n"
    written = (
        "    result.append(max(xs))\n    result.append(sum(xs))\n"  # a new line, then the line after next
    )
    model = _continuing(tmp_path, written + "    return result", buffer)
    result = suggest(model, buffer, line=2, k=1, temperature=0, strategy="continue")
    assert result.suggestions == [] and result.non_insertions == 1
    assert result.timings.new_tokens <= len(model.tokenizer(written, add_special_tokens=False)["input_ids"])


def test_continue_refuses_an_answer_that_changes_the_line_after_the_cursor(tmp_path):
    model = _continuing(tmp_path, "    result.append(min(xs))\n    return list(result)")
    result = suggest(model, BUFFER, line=2, k=1, temperature=0, strategy="continue")
    assert result.suggestions == [] and result.non_insertions == 1


STUB = 'def one():\n    """One."""\n'


def test_continue_does_not_close_a_stub_function_at_once(tmp_path):
    """A model that would rather close the code block than write the body of a function that has only its
    docstring (trained on the fence four times, the body once) writes the body."""
    from model_runtime.generation import generate
    from model_runtime.loading import load_model

    prompt = _continue_prompt(STUB, None)
    closing, body = prompt + "```" + tiny_model.EOS, prompt + "    return 1\n```" + tiny_model.EOS
    path = tiny_model.build(tmp_path, [closing] * 4 + [body], prompts=[prompt] * 5, max_steps=1500)
    model = load_model(path, quantize="none")
    assert generate(model, prompt, temperature=0, stop="eos").candidates[0].text.startswith("```")
    result = suggest(model, STUB, k=1, temperature=0, strategy="continue")
    assert [s.program for s in result.suggestions] == [STUB + "    return 1\n"]


def test_a_stub_is_a_function_with_only_a_docstring():
    assert continuation.is_stub(["    def one(self):", '        """One."""'])
    assert not continuation.is_stub(["def one():", '    """One."""', "    return 1"])
    assert not continuation.is_stub(["x = 1"]) and not continuation.is_stub(["def broken("])


def test_a_line_typed_at_the_cursor_leaves_the_continue_prompt_before_it_unchanged():
    """The per-document prompt cache reuses a prompt up to its first changed character: after a line typed at the
    cursor the previous prompt is a prefix of the new one, in a short function and in one longer than the window
    (there the window's start moves once a grid step: 10 lines for a 40-line window)."""
    from model_runtime.strategies.base import Request

    loaded = SimpleNamespace(tokenizer=tiny_model.build_tokenizer())
    body = [f"    v{i} = {i}" for i in range(150)]
    lines = [
        "import os",
        "",
        "",
        "def small():",
        "    return 1",
        "",
        "",
        "def big():",
        *body,
        "    return os",
        "",
    ]
    for cursor, typing in ((4, 5), (60, 20)):  # inside small(), inside big()
        kept, buffer = 0, list(lines)
        for step in range(typing):
            old = continuation.layout(loaded, Request("\n".join(buffer), line=cursor + step, window=40)).text
            buffer.insert(cursor + step, f"    typed{step} = 0")
            new = continuation.layout(
                loaded, Request("\n".join(buffer), line=cursor + step + 1, window=40)
            ).text
            kept += new.startswith(old)
        assert kept >= typing - typing // 10 - 1


def _head(lines: list[str]) -> list[str]:
    from model_runtime.outline import outline_of

    outline = outline_of("\n".join(lines))
    head = outline.head(outline.spans()[0]) if outline is not None else range(0)
    return lines[head.start : head.stop]


def test_the_head_of_a_function_or_class_is_its_signature_and_docstring():
    function = ["@cache", "def f(x,", "      y):", '    """Doc', '    more."""', "    return x"]
    assert _head(function) == function[:5]
    assert _head(["class C(B):", '    """A long class docstring."""', "    x = 1"]) == ["class C(B):"]
    assert _head(["x = 1"]) == [] and _head(["def broken("]) == []
    assert _head(["def f(): return 1"]) == ["def f(): return 1"]


def test_the_head_comes_from_the_kept_trees_with_their_offsets():
    """The server's outline reuses a statement's tree after an edit above it moved it: its head must move too."""
    from model_runtime.outline import OutlineTracker

    before = 'import os\n\n\ndef f(x):\n    """Doc."""\n    return os.sep\n'
    after = 'import os\nimport re\n\n\ndef f(x):\n    """Doc."""\n    return os.sep\n'
    tracker = OutlineTracker()
    tracker.outline(before)
    outline = tracker.outline(after)
    head = outline.head(outline.spans()[-1])
    assert after.split("\n")[head.start : head.stop] == ["def f(x):", '    """Doc."""']


def test_continue_splits_the_region_at_the_cursor_without_trailing_blank_lines():
    assert continuation.split_at_cursor(["def f():", "    x = 1", "", "    return x"], 3) == (
        ["def f():", "    x = 1"],
        ["    return x"],
    )


def test_fim_inserts_the_middle_at_the_cursor(fim_model):
    result = suggest(fim_model, BUFFER, line=2, k=1, temperature=0, strategy="fim")
    assert [p.as_dict() for p in result.suggestions[0].placements] == [
        {"line": 2, "lines": ["    result.append(min(xs))"]}
    ]


def test_fim_needs_fim_tokens(rewrite_model, fim_model):
    with pytest.raises(ValueError, match="FIM tokens"):
        suggest(rewrite_model, BUFFER, line=2, k=1, temperature=0, strategy="fim")
    assert fim.missing_tokens(rewrite_model.tokenizer) == [fim.PREFIX, fim.SUFFIX, fim.MIDDLE]
    assert fim.missing_tokens(fim_model.tokenizer) == []


def test_strategy_names_are_checked_and_defaults_follow_the_model(rewrite_model, fim_model):
    with pytest.raises(ValueError, match="unknown strategy"):
        resolve("guess", rewrite_model)
    assert default_strategy(rewrite_model) == "lintseq"  # no chat template, no FIM tokens
    assert resolve("fim", fim_model) == "fim"
