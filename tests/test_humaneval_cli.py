"""HumanEval through the real command line on tiny models: eval humaneval, execute, report, rescore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.edits import SEPARATOR, render_sequence
from tests.support.humaneval_data import STRLEN, record_samples, write_samples
from training.evaluation.harness import per_prompt, results_path_for, run_humaneval
from training.evaluation.humaneval import (
    build_prompt,
    instruction,
)
from training.evaluation.results import read_records
from training.lintseq import sample_edits

ROOT = Path(__file__).resolve().parents[1]


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
    samples = write_samples(
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
    record_samples(by_id["HumanEval/23"], programs, mode="baseline", out=out, config=config)
    result = _editseq_in_process(
        "eval", "report", str(out), "--failures", monkeypatch=monkeypatch, cwd=tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "| run | samples | passed | wrong answer | runtime error | does not parse |" in result.stdout
    assert "| four baseline | 4 | 25.0 | 25.0 | 25.0 | 25.0 |" in result.stdout


def test_eval_report_failures_says_why_lintseq_samples_are_not_well_formed(tmp_path, by_id, monkeypatch):
    """Real sandbox runs of four edit sequences for HumanEval/23: two well-formed, one whose header promises two
    lines and gives one, one that inserts past the end; the baseline run beside it gets no edit-format row."""
    body = "@@ -0,0 +1,2 @@\n+def strlen(string):\n+    return len(string)"
    generations = [
        body,
        body + SEPARATOR + '@@ -1,0 +2 @@\n+    """The length."""' + SEPARATOR,
        "@@ -0,0 +1,2 @@\n+def strlen(string):",
        body + SEPARATOR + "@@ -7,0 +8 @@\n+x = 1",
    ]
    lintseq, baseline = tmp_path / "edits.jsonl", tmp_path / "whole.jsonl"
    edits_config, whole_config = (
        {"model": "/m/edits", "mode": "lintseq"},
        {"model": "/m/whole", "mode": "baseline"},
    )
    record_samples(by_id["HumanEval/23"], generations, mode="lintseq", out=lintseq, config=edits_config)
    record_samples(by_id["HumanEval/23"], [body], mode="baseline", out=baseline, config=whole_config)
    args = ["eval", "report", str(lintseq), str(baseline), "--failures"]
    result = _editseq_in_process(*args, monkeypatch=monkeypatch, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    formats = result.stdout.split("| run | samples | well-formed |", 1)[1]
    assert formats.startswith(" header's line count is off | inserts past the end |")
    assert "| edits lintseq | 4 | 50.0 | 25.0 | 25.0 |" in formats
    assert "whole baseline" not in formats


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
    record_samples(by_id["HumanEval/0"], [MISPLACED], mode="lintseq", out=source, config=config)
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
    record_samples(by_id["HumanEval/23"], [program], mode="baseline", out=source, config=config)
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
