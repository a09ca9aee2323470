"""Self-distillation (``training.distill``, ``editseq data distill``): candidates checked in the real sandbox
against doctests and the original's behaviour, the corpus rows it writes, resume and bad input.

``distill`` is driven twice: with scripted generations standing in for the model (the one boundary faked here: what
a model writes, so that right and wrong answers are known), and through the command with a real tiny model that has
a chat template, for the plumbing (prompts, sampling, log, resume)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from training.cli import app
from training.corpus import Program, write_programs
from training.distill import candidate_source, distill, problem_for, verify
from training.evaluation.sandbox import Limits

LIMITS = Limits(timeout_s=20.0)


def function(name: str, path: str, instruction: str, program: str, split: str = "train") -> Program:
    """A corpus row of the test source for the function ``name`` in ``path``."""
    return Program(instruction, program, source="test", licence="MIT", path=path, name=name, split=split)


CLAMP = function(
    "clamp",
    "numbers.py",
    'def clamp(value, low, high):\n    """Return value limited to the range [low, high].\n\n'
    '    >>> clamp(5, 0, 3)\n    3\n    >>> clamp(-1, 0, 3)\n    0\n    """',
    "def clamp(value, low, high):\n    return max(low, min(value, high))",
)
PAIR_SUM = function(
    "pair_sum",
    "pairs.py",
    'def pair_sum(pair):\n    """Return the sum of the two items of pair."""',
    "def pair_sum(pair):\n    first, second = pair\n    return first + second",
)
HELD_OUT = function(
    "double",
    "valid.py",
    'def double(x):\n    """Return twice x."""',
    "def double(x):\n    return x * 2",
    "valid",
)


def answer(code: str) -> str:
    """A generation as the prompt's open code block receives it: the code, then the closing fence."""
    return code + "\n```\nThis function ..."


def test_a_right_answer_passes_the_doctest_and_the_calls_and_a_wrong_one_does_not():
    right = "def clamp(value, low, high):\n    smaller = min(value, high)\n    return max(low, smaller)"
    off_doc = "def clamp(value, low, high):\n    return value"
    verdicts = verify(CLAMP, [right, off_doc], LIMITS)
    assert verdicts[0]["ok"] and verdicts[0]["reason"].startswith("doctest, ")
    assert verdicts[1] == {"ok": False, "reason": "fails its doctest"}


def test_the_calls_catch_what_a_doctest_cannot_see():
    swapped = (
        "def pair_sum(pair):\n    first, second = pair\n    return second + first"  # equal for numbers only
    )
    raising = "def pair_sum(pair):\n    return pair[0] + pair[1] + pair[2]"
    verdicts = verify(PAIR_SUM, [PAIR_SUM.program, swapped, raising], LIMITS)
    assert verdicts[0]["ok"] and verdicts[0]["reason"].endswith("calls")
    assert verdicts[1] == {"ok": False, "reason": "differs from the original"}
    assert verdicts[2] == {"ok": False, "reason": "raises where the original returns"}


def test_candidates_that_hang_print_or_close_stdout_get_a_verdict_each():
    looping = "def pair_sum(pair):\n    while True:\n        pass"
    closing = (
        "import contextlib\nimport os\n\n\ndef pair_sum(pair):\n    with contextlib.suppress(OSError):\n"
        "        os.close(1)\n    first, second = pair\n    return first + second"
    )
    printing = "def pair_sum(pair):\n    print('[]')\n    first, second = pair\n    return first + second"
    verdicts = verify(PAIR_SUM, [looping, closing, printing], LIMITS)
    assert verdicts[0] == {"ok": False, "reason": "raises where the original returns"}  # stopped by its timer
    assert verdicts[1]["ok"] and verdicts[2]["ok"]


def test_a_function_no_check_reaches_is_left_out():
    opaque = function(
        "name_of",
        "names.py",
        'def name_of(thing):\n    """Return the name of thing."""',
        "def name_of(thing):\n    return thing.__name__",
    )
    assert verify(opaque, [opaque.program], LIMITS) == [{"ok": False, "reason": "unverifiable"}]


def test_a_generation_becomes_a_candidate_only_as_a_clean_definition_of_the_function():
    assert candidate_source(PAIR_SUM, answer(PAIR_SUM.program)) == PAIR_SUM.program
    assert candidate_source(PAIR_SUM, answer("def pair_sum(pair):\n    return missing + 1")) is None
    assert candidate_source(PAIR_SUM, answer("def other(pair):\n    return 1")) is None
    assert candidate_source(PAIR_SUM, "def pair_sum(pair:\n") is None
    # The model's own example calls are dropped, as in HumanEval scoring.
    assert (
        candidate_source(PAIR_SUM, answer(PAIR_SUM.program + "\n\nprint(pair_sum((1, 2)))"))
        == PAIR_SUM.program
    )


def test_the_prompt_shows_the_imports_the_signature_and_the_docstring_not_the_body():
    program = function(
        "join",
        "p.py",
        'def join(parts):\n    """Join paths."""',
        "import os\n\n\ndef join(parts):\n    return os.path.join(*parts)",
    )
    assert problem_for(program).prompt == 'import os\n\n\ndef join(parts):\n    """Join paths."""\n'


def test_distill_keeps_the_first_passing_answer_in_place_of_the_original():
    scripted = {
        "clamp": [answer("def clamp(value, low, high):\n    return value"),
                  answer("def clamp(value, low, high):\n    return max(low, min(high, value))")],
        "pair_sum": ["no code at all", answer("def pair_sum(pair):\n    return 0")],
    }  # fmt: skip
    outcomes = list(distill([CLAMP, PAIR_SUM], lambda program: scripted[program.name], limits=LIMITS))
    kept, lost = outcomes
    assert kept.program.program == "def clamp(value, low, high):\n    return max(low, min(high, value))"
    assert (kept.program.instruction, kept.program.split, kept.program.path) == (
        CLAMP.instruction,
        "train",
        "numbers.py",
    )
    assert kept.reasons[0] == "fails its doctest"
    assert lost.program is None
    assert lost.reasons == ("not a clean definition", "differs from the original")


TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


@pytest.fixture(scope="module")
def chat_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny test model with a chat template added to its tokenizer."""
    target = tmp_path_factory.mktemp("tiny-chat") / "model"
    shutil.copytree(tiny_model_dir, target)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps(config | {"chat_template": TEMPLATE}))
    return target


def run_distill(corpus, out, model, *extra):
    args = ["data", "distill", str(corpus), "-o", str(out), "--model", str(model), "-n", "2"]
    return CliRunner().invoke(app, [*args, "--max-new-tokens", "16", "--quantize", "none", *extra])


def test_the_command_logs_every_program_copies_the_other_split_and_resumes(chat_model_dir, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_programs(corpus, [CLAMP, PAIR_SUM, HELD_OUT])
    out = tmp_path / "distilled.jsonl"
    first = run_distill(corpus, out, chat_model_dir)
    assert first.exit_code == 0, first.output
    log = [json.loads(line) for line in (tmp_path / "distilled.jsonl.log.jsonl").read_text().splitlines()]
    assert [row["key"] for row in log] == ["test:numbers.py::clamp", "test:pairs.py::pair_sum"]
    assert all(len(row["reasons"]) == len(row["generations"]) == 2 for row in log)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert HELD_OUT.to_json() in rows  # the held-out split keeps its originals
    assert len(rows) == 1 + sum(row["kept"] for row in log)
    again = run_distill(corpus, out, chat_model_dir)
    assert again.exit_code == 0 and "2 done earlier, 0 to go" in again.output
    assert len((tmp_path / "distilled.jsonl.log.jsonl").read_text().splitlines()) == 2
    changed = run_distill(corpus, out, chat_model_dir, "--temperature", "0.5")
    assert changed.exit_code == 2 and "other settings" in changed.output


def test_a_corrupt_corpus_or_a_model_without_chat_template_is_refused_with_a_reason(
    chat_model_dir, tiny_model_dir, tmp_path
):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps(PAIR_SUM.to_json()) + "\n{not json\n")
    result = run_distill(corpus, tmp_path / "out.jsonl", chat_model_dir)
    assert result.exit_code == 2 and "corpus.jsonl:2 is not a corpus row" in result.output
    write_programs(corpus, [PAIR_SUM])
    result = run_distill(corpus, tmp_path / "out.jsonl", tiny_model_dir)
    assert result.exit_code == 2 and "no chat template" in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_originals_mode_checks_each_program_against_itself_without_a_model(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_programs(corpus, [CLAMP, PAIR_SUM, HELD_OUT])
    out = tmp_path / "originals.jsonl"
    result = CliRunner().invoke(app, ["data", "distill", str(corpus), "-o", str(out), "--originals"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 train programs distilled" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [CLAMP.to_json(), PAIR_SUM.to_json(), HELD_OUT.to_json()]


def test_an_instruction_that_does_not_parse_has_no_doctest_to_run():
    broken = function("pair_sum", "b.py", "def pair_sum(pair:", PAIR_SUM.program)
    assert verify(broken, [PAIR_SUM.program], LIMITS)[0]["ok"]  # the calls still check it
