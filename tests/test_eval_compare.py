"""The paired bootstrap that compares two HumanEval runs, and `editseq eval compare` on results files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from training.cli import app
from training.evaluation.compare import paired_bootstrap
from training.evaluation.passk import pass_at_k
from training.evaluation.report import adapter_name
from training.evaluation.results import append_record


def _records(passed: list[int], n: int = 10, start: int = 0) -> list[dict]:
    return [{"task_id": f"HumanEval/{start + i}", "n": n, "passed": c} for i, c in enumerate(passed)]


@st.composite
def two_runs(draw):
    problems = draw(st.integers(1, 30))
    counts = st.lists(st.integers(0, 10), min_size=problems, max_size=problems)
    return _records(draw(counts)), _records(draw(counts))


@settings(max_examples=40, deadline=None)
@given(two_runs())
def test_the_difference_is_the_exact_mean_and_swapping_the_runs_mirrors_it(runs):
    a, b = runs
    forward = paired_bootstrap(a, b, [1, 5, 10], resamples=500)
    backward = paired_bootstrap(b, a, [1, 5, 10], resamples=500)
    for d, e in zip(forward, backward, strict=True):
        exact = sum(
            pass_at_k(10, x["passed"], d.k) - pass_at_k(10, y["passed"], d.k)
            for x, y in zip(a, b, strict=True)
        ) / len(a)
        assert d.delta == pytest.approx(exact, abs=1e-12)
        assert e.delta == pytest.approx(-d.delta, abs=1e-12)
        assert (e.low, e.high) == pytest.approx((-d.high, -d.low), abs=1e-12)
        assert d.low <= d.high and d.problems == len(a)


def test_identical_runs_are_not_told_apart_and_a_dominating_run_is():
    run = _records([0, 3, 10, 1])
    for d in paired_bootstrap(run, run, [1, 5, 10]):
        assert (d.delta, d.low, d.high, d.a_better) == (0.0, 0.0, 0.0, 0.0)
    best, worst = _records([10] * 8), _records([0] * 8)
    (d,) = paired_bootstrap(best, worst, [1])
    assert (d.a, d.b, d.delta, d.low, d.high, d.a_better) == (1.0, 0.0, 1.0, 1.0, 1.0, 1.0)


def test_a_difference_on_one_problem_of_many_has_an_interval_that_contains_zero():
    a, b = _records([10] + [0] * 99), _records([0] * 100)
    (d,) = paired_bootstrap(a, b, [1], seed=3)
    assert d.delta == pytest.approx(0.01)
    assert d.low == 0.0 and d.high > 0.01


def test_only_shared_problems_count_and_ks_beyond_the_samples_are_left_out():
    a = _records([5, 5, 0], n=5)  # HumanEval/0-2
    b = _records([0, 0, 0], n=10, start=1)  # HumanEval/1-3
    differences = paired_bootstrap(a, b, [1, 5, 10])
    assert [d.k for d in differences] == [1, 5]  # run A has 5 samples per problem
    assert differences[0].problems == 2 and differences[0].delta == pytest.approx(0.5)


def test_runs_without_a_common_problem_or_a_fitting_k_are_errors():
    with pytest.raises(ValueError, match="share no problem"):
        paired_bootstrap(_records([1]), _records([1], start=5), [1])
    with pytest.raises(ValueError, match="no k in"):
        paired_bootstrap(_records([1], n=2), _records([1], n=2), [5, 10])


def test_records_that_are_not_results_are_an_error_not_a_crash():
    with pytest.raises(ValueError, match="lacks a usable task_id, n or passed"):
        paired_bootstrap([{"task_id": "HumanEval/0", "n": 10}], _records([1]), [1])
    with pytest.raises(ValueError, match="lacks a usable task_id, n or passed"):
        paired_bootstrap([{"id": "x"}], _records([1]), [1])
    with pytest.raises(ValueError, match="need 0 <= c <= n"):
        paired_bootstrap(_records([11]), _records([1]), [1])


def test_training_runs_adapters_keep_the_runs_name_in_labels():
    assert adapter_name("/work/runs/baseline-main/final") == "baseline-main/final"
    assert adapter_name("runs/x/checkpoint-000480") == "x/checkpoint-000480"
    assert adapter_name("models/editseq-smollm2-135m-lintseq") == "editseq-smollm2-135m-lintseq"


def _write(path, config, passed):
    for record in _records(passed):
        append_record(path, {**record, "config": config})
    return str(path)


def test_eval_compare_prints_the_difference_with_its_interval(tmp_path):
    config = {"model": "/models/m", "mode": "baseline", "chat": True}
    a = _write(tmp_path / "a.jsonl", {**config, "adapter": "/runs/twin/final"}, [10, 10, 0, 0])
    b = _write(tmp_path / "b.jsonl", config, [0, 0, 0])
    result = CliRunner().invoke(app, ["eval", "compare", a, b, "--k", "1", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    assert "A: m + twin/final baseline chat (a.jsonl, 4 problems)" in result.stdout
    assert "compared on the 3 problems both runs scored" in result.stdout
    assert "| 1 | 66.7 | 0.0 | +66.7 |" in result.stdout


def test_eval_compare_reports_an_empty_results_file_clearly(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    other = _write(tmp_path / "b.jsonl", {"model": "m", "mode": "baseline"}, [1])
    result = CliRunner().invoke(app, ["eval", "compare", str(empty), other])
    assert result.exit_code == 1
    assert "has no results" in result.output and "Traceback" not in result.output


def test_every_nth_problem_compares_and_reports_the_same_subset_as_eval_humaneval(tmp_path):
    config = {"model": "/models/m", "mode": "baseline"}
    a = _write(tmp_path / "a.jsonl", config, [10, 0, 0, 0, 10, 0, 0, 0])  # HumanEval/0-7: passes 0 and 4
    b = _write(tmp_path / "b.jsonl", config, [0] * 8)
    result = CliRunner().invoke(
        app, ["eval", "compare", a, b, "--k", "1", "--every", "4", "--resamples", "50"]
    )
    assert result.exit_code == 0, result.output
    assert "| 1 | 100.0 | 0.0 | +100.0 | +100.0 to +100.0 | 100% | 2 |" in result.stdout
    result = CliRunner().invoke(app, ["eval", "report", a, "--k", "1", "--every", "4"])
    assert result.exit_code == 0, result.output
    assert "| m baseline | 2 | 10 | 100.0 |" in result.stdout
    result = CliRunner().invoke(
        app, ["eval", "report", _write(tmp_path / "c.jsonl", config, [1]), "--every", "4"]
    )
    assert result.exit_code == 0, result.output  # HumanEval/0 is in every subset
    lone = tmp_path / "d.jsonl"
    append_record(lone, {"task_id": "HumanEval/1", "n": 10, "passed": 1, "config": config})
    result = CliRunner().invoke(app, ["eval", "report", str(lone), "--every", "4"])
    assert result.exit_code == 1 and "no results in the --every 4 subset" in result.output
