"""The next-edit benchmark: cases from LintSeq states, scoring against the true next edit, resume, CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_runtime.edits import diff_states
from model_runtime.suggestions import validate
from tests.support.tiny_model import KNOWN_INSTRUCTION, KNOWN_PROGRAM, KNOWN_STATES
from training.evaluation.next_edit import (
    Case,
    cases_for,
    format_summary,
    line_f1,
    load_programs,
    run_next_edit,
    score_case,
    strategy_options,
    summarise_rows,
)
from training.evaluation.results import ConfigMismatch


@pytest.fixture
def known_cases() -> list[Case]:
    # Seed 0 samples exactly KNOWN_STATES for the known program (the tiny model was trained on that sequence).
    return cases_for("known", KNOWN_INSTRUCTION, KNOWN_PROGRAM, seed=0)


def test_cases_are_the_intermediate_states_with_their_history_and_true_next_state(known_cases):
    assert [c.step for c in known_cases] == [1, 2]
    second = known_cases[1]
    assert second.buffer == KNOWN_STATES[2] and second.target == KNOWN_STATES[3]
    assert second.target_edit == diff_states(KNOWN_STATES[2], KNOWN_STATES[3])
    assert second.history == (diff_states("", KNOWN_STATES[1]), diff_states(KNOWN_STATES[1], KNOWN_STATES[2]))


def test_a_case_puts_the_cursor_where_the_true_edit_goes(known_cases):
    buffer, target = known_cases[1].buffer.split("\n"), known_cases[1].target.split("\n")
    first_new = next(i for i, line in enumerate(target) if i >= len(buffer) or buffer[i] != line)
    assert known_cases[1].cursor == first_new


def test_long_sequences_are_sampled_evenly_up_to_max_steps():
    program = (
        "\n".join(f"x{i} = {i}" for i in range(12))
        + "\nprint("
        + " + ".join(f"x{i}" for i in range(12))
        + ")"
    )
    cases = cases_for("long", "", program, max_steps=3)
    assert len(cases) == 3
    assert cases[0].step == 1 and cases[-1].step == max(
        c.step for c in cases_for("long", "", program, max_steps=99)
    )


def test_a_program_that_does_not_parse_gives_no_cases():
    assert cases_for("bad", "", "def (:") == []


def test_strategies_name_a_prompt_mode_and_a_history_length():
    assert strategy_options("whole") == ("whole", 0)
    assert strategy_options("lintseq+history", 5) == ("lintseq", 5)
    assert strategy_options("continue+history", 2) == ("continue", 2)
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_options("telepathy")


def test_line_f1_known_values():
    assert line_f1(["a", "b"], ["a", "b"]) == 1.0
    assert line_f1(["a"], ["a", "b"]) == pytest.approx(2 / 3)
    assert line_f1(["c"], ["a"]) == 0.0
    assert line_f1([], []) == 1.0
    assert line_f1(["a", "a"], ["a"]) == pytest.approx(2 / 3)


@given(st.lists(st.sampled_from("abcd"), max_size=6), st.lists(st.sampled_from("abcd"), max_size=6))
def test_line_f1_is_symmetric_and_bounded(a, b):
    assert 0.0 <= line_f1(a, b) == line_f1(b, a) <= 1.0


def test_the_true_edit_scores_exact_hit_and_full_f1(known_cases):
    case = known_cases[1]
    result = validate(
        case.buffer, [(case.target_edit, -0.1), ("@@ -1,0 +2 @@\n+    pass", -0.5), ("junk", -1.0)]
    )
    row = score_case(case, "whole", result, k=3, latency_s=0.2)
    assert row["exact"] and row["hit"] and row["line_f1"] == 1.0
    assert row["validity"] == pytest.approx(2 / 3)


def test_a_valid_but_different_top_edit_is_not_exact_but_may_still_hit(known_cases):
    case = known_cases[1]
    other = "@@ -2,0 +3 @@\n+    total += 0"
    result = validate(case.buffer, [(other, -0.1), (case.target_edit, -0.9)])
    row = score_case(case, "whole", result, k=2, latency_s=0.1)
    assert not row["exact"] and row["hit"]
    assert row["line_f1"] == 0.0


def test_no_valid_suggestion_scores_zero(known_cases):
    case = known_cases[1]
    row = score_case(
        case, "whole", validate(case.buffer, [("@@ -2,0 +3 @@\n+    total += nope", 0.0)]), 1, 0.1
    )
    assert (row["exact"], row["hit"], row["line_f1"], row["validity"]) == (False, False, 0.0, 0.0)


def _truthful(case: Case, strategy: str):
    """A stand-in model that proposes the true edit only in the 'whole' strategy."""
    edit = case.target_edit if strategy == "whole" else "@@ -1,0 +2 @@\n+    pass"
    return validate(case.buffer, [(edit, 0.0)])


def test_the_summary_compares_strategies(known_cases):
    rows = run_next_edit(known_cases, ["whole", "lintseq"], _truthful, k=1)
    summary = summarise_rows(rows)
    assert summary["whole"]["exact"] == 1.0 and summary["lintseq"]["exact"] == 0.0
    assert summary["whole"]["cases"] == 2
    table = format_summary(summary, k=1)
    assert "| whole | 2 | 100.0% | 100.0% | 1.000 |" in table


def test_a_killed_benchmark_resumes_without_redoing_cases(known_cases, tmp_path):
    out = tmp_path / "next.jsonl"
    run_next_edit(known_cases[:1], ["whole"], _truthful, k=1, config={"a": 1}, out=out)
    calls = []

    def counting(case, strategy):
        calls.append((case.key, strategy))
        return _truthful(case, strategy)

    rows = run_next_edit(known_cases, ["whole"], counting, k=1, config={"a": 1}, out=out)
    assert calls == [(known_cases[1].key, "whole")]
    assert len(rows) == 2
    with pytest.raises(ConfigMismatch):
        run_next_edit(known_cases, ["whole"], counting, k=1, config={"a": 2}, out=out)


def test_programs_come_from_the_valid_split_of_a_corpus_file_or_from_python_files(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"instruction": "i1", "program": "x = 1", "split": "train", "path": "a.py", "name": "f"},
        {"instruction": "i2", "program": "y = 2", "split": "valid", "path": "b.py", "name": "g"},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [p[1] for p in load_programs([corpus])] == ["i2"]
    assert len(load_programs([corpus], all_splits=True)) == 2
    source = tmp_path / "m.py"
    source.write_text(
        'def f(xs):\n    """Sum."""\n    total = 0\n    for x in xs:\n        total += x\n    return total\n'
    )
    [(pid, instruction, program)] = load_programs([source])
    assert pid.endswith("m.py::f") and '"""Sum."""' in instruction and "return total" in program


def test_eval_next_edit_end_to_end_on_the_tiny_model(tiny_model_dir, tmp_path, monkeypatch):
    import torch
    from typer.testing import CliRunner

    from training.cli import app

    corpus = tmp_path / "held_out.jsonl"
    corpus.write_text(
        json.dumps({"instruction": KNOWN_INSTRUCTION, "program": KNOWN_PROGRAM, "split": "valid"}) + "\n"
    )
    out = tmp_path / "next.jsonl"
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = [
            "eval",
            "next-edit",
            str(corpus),
            "--model",
            str(tiny_model_dir),
            "--strategies",
            "whole,lintseq,continue",
        ]
        result = CliRunner().invoke(app, [*args, "--k", "2", "--temperature", "0", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    rows = {(r["case"], r["strategy"]): r for r in map(json.loads, Path(out).read_text().splitlines())}
    # The tiny model memorised the next edit after KNOWN_STATES[2] given the buffer as one insertion.
    assert rows[("held_out.jsonl::held_out.jsonl:1#2", "whole")]["exact"] is True
    assert "| whole | 2 |" in result.output and "| lintseq | 2 |" in result.output
    assert "| continue | 2 |" in result.output  # the runtime's strategy, at the true edit's cursor
