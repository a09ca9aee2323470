"""``editseq retrain`` on a small repository made here, from a tiny model: data, split, training, report, resume,
the model directory the runtime and the language server load, and the suggestions-log import.

One retraining run serves the module (it takes seconds with the tiny model); tests read what it left behind.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.sample_repo import FILES, make_git_repo, make_repo
from training.feedback import feedback_records
from training.retrain.cli import outcome
from training.retrain.data import held_out_files
from training.retrain.flow import STAGES, estimate, retrain
from training.retrain.history import verdict
from training.retrain.options import RetrainOptions
from training.retrain.report import render_report


def options_for(repo: Path, out: Path, base: Path, **overrides) -> RetrainOptions:
    """Options sized for a tiny model: one sample, short rows, a few steps, a small benchmark."""
    settings = dict(
        repo=repo, out=out, base=str(base), held_out=0.3, samples=1, lr=3e-3, epochs=3.0, max_length=512,
        rows=2, grad_accum=1, eval_programs=3, eval_steps=1, eval_rows=8, k=2, max_new_tokens=24, device="cpu",
        threads=1,
    )  # fmt: skip
    return RetrainOptions(**(settings | overrides))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def run(repo, tiny_model_dir, tmp_path_factory):
    """One retraining run: (options, report, log lines)."""
    lines: list[str] = []
    options = options_for(repo, tmp_path_factory.mktemp("retrained") / "model", tiny_model_dir)
    report = retrain(options, log=lines.append)
    return options, report, lines


def work_ids(options, name: str) -> set[str]:
    rows = [json.loads(line) for line in (options.out / "work" / name).read_text().splitlines()]
    return {str(row["id"]).split("::")[0] for row in rows}


# --- the run ------------------------------------------------------------------------------------------------------


def test_progress_names_every_stage_in_order(run):
    _, _, lines = run
    stages = [line for line in lines if line.startswith("[")]
    assert stages == [f"[{i}/{len(STAGES)}] {name}" for i, name in enumerate(STAGES, 1)]


def test_gitignored_vendored_and_generated_files_are_not_collected(run):
    options, _, _ = run
    collected = work_ids(options, "train.programs.jsonl") | work_ids(options, "valid.programs.jsonl")
    assert collected and not collected & {"build/copy.py", "vendor/lib.py", "gen_pb2.py"}


def test_held_out_files_give_no_training_sequence(run):
    options, report, _ = run
    held = set(json.loads((options.out / "work" / "collect.json").read_text())["held_out"])
    assert held and held == work_ids(options, "valid.lintseq.jsonl")
    assert not held & work_ids(options, "train.lintseq.jsonl")
    assert report["data"]["held_out_files"] == len(held)


def test_training_sequences_are_lintseq_records_of_the_repository(run):
    options, report, _ = run
    rows = [
        json.loads(line) for line in (options.out / "work" / "train.records.jsonl").read_text().splitlines()
    ]
    assert len(rows) == report["data"]["train_records"] > 0
    assert all(row["edits"] and row["edits"][0].startswith("@@ -0,0 +1") for row in rows)


def test_the_model_directory_holds_adapter_config_and_report(run):
    options, report, _ = run
    names = {p.name for p in options.out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "train_config.json", "report.md"} <= names
    assert json.loads((options.out / "report.json").read_text()) == report
    recorded = json.loads((options.out / "train_config.json").read_text())
    assert recorded["retrain"]["repo"] == str(options.repo.resolve())


def test_the_report_compares_before_and_after_on_the_same_cases(run):
    _, report, _ = run
    before, after = report["before"], report["after"]
    assert before["cases"] == after["cases"] > 0
    for row in (before, after):
        assert 0.0 <= row["exact"] <= 1.0 and 0.0 <= row["line_f1"] <= 1.0
    assert "| before |" in render_report(report) and "| after |" in render_report(report)


def test_training_on_the_repository_lowers_its_held_out_loss(run):
    _, report, _ = run
    assert report["after"]["valid_loss"] < report["before"]["valid_loss"]


def test_the_runtime_loads_the_model_directory_on_its_base(run, tiny_model_dir):
    from model_runtime.loading import clear_cache, load_model

    options, _, _ = run
    loaded = load_model(str(options.out), device="cpu")
    try:
        assert loaded.adapter == str(options.out.resolve())
        assert loaded.source == str(Path(tiny_model_dir).resolve())
    finally:
        clear_cache()


@pytest.mark.asyncio
async def test_the_running_language_server_switches_to_the_model_on_a_setting_change(run, tiny_model_dir):
    from lsprotocol import types

    from tests.clients.lsp_session import execute, open_doc, start, stop, wait_for_state

    options, _, _ = run
    client = await start({"modelPath": str(tiny_model_dir), "k": 1, "prefetch": False})
    try:
        open_doc(client, "def f(x):\n    return x\n", uri="file:///tmp/editseq_retrain/a.py")
        await wait_for_state(client, "ready")
        settings = {"editseq": {"modelPath": str(options.out), "k": 1, "prefetch": False}}
        client.set_configuration(settings)  # what the server reads back through workspace/configuration
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
        await execute(client, "editseq.status")  # a round trip: the notification has been handled
        status = await wait_for_state(client, "ready")
        assert status["model"] == str(options.out.resolve()) and "error" not in status
        await execute(client, "editseq.reloadModel")
        assert (await wait_for_state(client, "ready"))["model"] == str(options.out.resolve())
    finally:
        await stop(client)


def test_rerunning_the_same_command_redoes_nothing(run):
    options, report, _ = run
    lines: list[str] = []
    again = retrain(options, log=lines.append)
    assert (again["before"], again["after"], again["training"]) == (
        report["before"],
        report["after"],
        report["training"],
    )
    assert not any(
        "sequences" in line and not line.strip().startswith(("train: 0", "valid: 0")) for line in lines
    )


def test_a_run_killed_after_training_resumes_from_its_checkpoint(repo, tiny_model_dir, tmp_path):
    options = options_for(repo, tmp_path / "model", tiny_model_dir, eval_programs=1)
    first = retrain(options, log=lambda _: None)
    # As if killed before training finished: no record of the finished stage, no final weights, no scores.
    for name in ("trained.json", "after-whole.json", "next-edit-after-whole.jsonl"):
        (options.out / "work" / name).unlink()
    shutil.rmtree(options.out / "work" / "run" / "final")
    lines: list[str] = []
    resumed = retrain(options, log=lines.append)
    assert any("resumed from" in line for line in lines)
    assert resumed["training"]["steps"] == first["training"]["steps"]
    timeless = lambda scores: {k: v for k, v in scores.items() if k != "seconds"}  # noqa: E731
    assert timeless(resumed["after"]) == timeless(first["after"])


# --- the time budget, errors, the command line ----------------------------------------------------------------------


def test_training_stops_when_its_time_budget_is_spent(repo, tiny_model_dir, tmp_path):
    lines: list[str] = []
    report = retrain(
        options_for(
            repo, tmp_path / "model", tiny_model_dir, budget_minutes=1e-6, epochs=50.0, eval_programs=1
        ),
        log=lines.append,
    )
    # Told before training how long the rest takes, and after the first step where the budget stops it.
    estimate = next(i for i, line in enumerate(lines) if "estimate: training at most" in line)
    assert estimate < lines.index("[4/6] train")
    assert any("step 1 of" in line and "the time budget of" in line for line in lines)
    assert report["training"]["stopped_by_budget"]
    assert report["training"]["steps"] == 1 < report["training"]["total_steps"]


def test_the_estimate_gives_the_likely_end_and_the_end_when_the_new_model_answers_long(tmp_path):
    told = estimate(RetrainOptions(repo=tmp_path, out=tmp_path / "m", budget_minutes=20), before_seconds=420)
    assert "training at most 20 min" in told and "scoring the new model about 7.0 min" in told
    assert "done in about 27 min (up to 41 min" in told


def test_a_single_file_repository_is_refused_with_a_reason(tmp_path, tiny_model_dir):
    make_repo(tmp_path / "one", {"only.py": FILES["numbers/stats.py"]})
    result = CliRunner().invoke(
        __import__("training.cli", fromlist=["app"]).app,
        ["retrain", str(tmp_path / "one"), "--base", str(tiny_model_dir), "--out", str(tmp_path / "m")],
    )
    assert result.exit_code == 2
    assert "at least two files" in result.output


def test_a_directory_without_python_code_is_refused_with_a_reason(tmp_path, tiny_model_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no Python programs found"):
        retrain(options_for(tmp_path / "empty", tmp_path / "m", tiny_model_dir), log=lambda _: None)


# --- pure pieces --------------------------------------------------------------------------------------------------


@given(st.lists(st.from_regex(r"[a-z]{1,6}/[a-z]{1,6}\.py", fullmatch=True), min_size=2, unique=True))
def test_at_least_one_file_and_never_every_file_is_held_out(paths):
    held = held_out_files(paths, 0.15)
    assert 1 <= len(held) < len(paths)
    assert held == held_out_files(list(reversed(paths)), 0.15)


def test_suggestions_log_accepted_edits_in_the_repository_become_sequences(tmp_path):
    buffer = "def f(x):\n    y = x\n    return y"
    edit = "@@ -2,0 +3 @@\n+    y = y + 1"
    rows = [
        {
            "event": "accepted",
            "uri": (tmp_path / "a.py").as_uri(),
            "buffer": buffer,
            "suggestion": edit,
            "line": 1,
        },
        {"event": "rejected", "uri": (tmp_path / "a.py").as_uri(), "buffer": buffer, "suggestion": edit},
        {"event": "accepted", "uri": "file:///elsewhere/b.py", "buffer": buffer, "suggestion": edit},
        {"event": "accepted", "uri": (tmp_path / "held.py").as_uri(), "buffer": buffer, "suggestion": edit},
        {
            "event": "accepted",
            "uri": (tmp_path / "c.py").as_uri(),
            "buffer": buffer,
            "suggestion": "@@ -2,0 +3 @@\n+    y = missing",
        },  # fmt: skip
    ]
    records, stats = feedback_records(rows, tmp_path, held_out=frozenset({"held.py"}))
    from model_runtime.edits import apply_edit

    assert [r["edits"][-1] for r in records] == [edit]
    program = ""
    for step in records[0]["edits"]:
        program = apply_edit(program, step)
    assert program == "def f(x):\n    y = x\n    y = y + 1\n    return y"
    assert (stats.accepted, stats.rejected, stats.used) == (3, 1, 1)
    assert stats.skipped == {
        "outside the repository": 1,
        "held-out file": 1,
        "does not apply cleanly": 1,
    }


def test_a_model_directory_whose_base_is_gone_is_refused_with_a_reason(run, tmp_path):
    from model_runtime.loading import ModelLoadError, load_model

    options, _, _ = run
    moved = tmp_path / "moved"
    shutil.copytree(options.out, moved, ignore=shutil.ignore_patterns("work"))
    for name in ("train_config.json", "adapter_config.json"):
        config = json.loads((moved / name).read_text())
        config["model" if name == "train_config.json" else "base_model_name_or_path"] = "/nonexistent/base"
        (moved / name).write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="base model is not here"):
        load_model(str(moved), device="cpu")


# --- the history yardstick -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def git_run(tiny_model_dir, tmp_path_factory):
    """A retraining run on a git repository whose newest commit inserted one function: (options, report, log)."""
    repo = make_git_repo(tmp_path_factory.mktemp("git-repo"))
    lines: list[str] = []
    options = options_for(repo, tmp_path_factory.mktemp("retrained-git") / "model", tiny_model_dir)
    return options, retrain(options, log=lines.append), lines


def test_the_newest_history_is_held_out_and_training_reads_the_tree_before_it(git_run):
    options, report, lines = git_run
    head = subprocess.run(
        ["git", "-C", str(options.repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert report["history"] == {"head": head, "cut": f"{head}^", "cases": 1, "reason": ""}
    assert any("held out: the newest 1 next edits" in line for line in lines)
    # The inserted function is in the working tree, but no training or held-out program saw it.
    programs = (options.out / "work" / "programs.jsonl").read_text()
    assert "def halfway" in (options.repo / "numbers" / "stats.py").read_text()
    assert "halfway" not in programs and "mean" in programs


def test_both_models_are_scored_on_the_held_out_history_and_the_verdict_follows_line_f1(git_run):
    options, report, _ = git_run
    before, after, decided = report["before"]["history"], report["after"]["history"], report["verdict"]
    assert before["cases"] == after["cases"] == 1
    assert decided["yardstick"] == "history" and decided["cases"] == 1
    assert decided["adopt"] == (after["line_f1"] > before["line_f1"])
    rows = [
        json.loads(line) for line in (options.out / "work" / "next-edit-after-whole-history.jsonl").open()
    ]
    assert len(rows) == 1 and "def halfway(values):" in rows[0]["truth"]
    markdown = (options.out / "report.md").read_text()
    assert "Held-out next edits from the git history" in markdown
    assert ("use the new model" if decided["adopt"] else "keep the starting model") in markdown
    assert ("Not recommended" in markdown) is not decided["adopt"]
    assert ("Set the editor's" in markdown) is decided["adopt"]


def test_without_git_the_held_out_files_decide(run):
    _, report, lines = run
    assert report["history"]["reason"] == "not a git repository with commits"
    assert report["verdict"]["yardstick"] == "held-out files"
    assert report["verdict"]["cases"] == report["before"]["cases"]
    assert any("no history yardstick" in line for line in lines)


@pytest.mark.parametrize(
    ("before", "after", "adopt"),
    [([0.2, 0.0], [0.6, 0.0], True), ([0.2, 0.4], [0.2, 0.4], False), ([0.5, 0.5], [0.0, 0.5], False)],
)
def test_the_new_model_is_kept_only_when_its_line_f1_is_above(before, after, adopt):
    rows = lambda scores: [{"case": f"c{i}", "line_f1": s} for i, s in enumerate(scores)]  # noqa: E731
    decided = verdict(rows(before), rows(after), "history")
    assert decided.adopt is adopt
    assert decided.difference.problems == 2


def test_the_command_names_the_model_only_when_it_is_kept(git_run):
    _, report, _ = git_run
    for adopt in (True, False):
        told = outcome(report | {"verdict": report["verdict"] | {"adopt": adopt}}, "default")
        if adopt:
            assert told == f"model: {report['model_dir']}"
        else:
            candidate, kept = told.splitlines()
            assert candidate == f"candidate: {report['model_dir']}"
            assert kept.startswith("kept: the starting model (default)") and "model: " not in kept
