"""The next-edit benchmark on real history: cases from a git repository's commits, the metrics on hand-made
insertions, the resumable runner, the summary, the paired comparison and `editseq eval next-edit --git`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model_runtime.edits import diff_states, parse_edit
from model_runtime.suggestions import Placement, Suggestion, SuggestResult, insert_placements
from tests.support.tiny_model import KNOWN_NEXT_LINE, KNOWN_NEXT_LINES, KNOWN_STATES
from training.evaluation.edit_metrics import edit_similarity, exact, line_f1, near
from training.evaluation.git_history import (
    MAX_FILE_LINES,
    DiffHunk,
    build_cases,
    code_of,
    parse_hunks,
    starts_code,
)
from training.evaluation.git_next_edit import (
    compare_line_f1,
    format_summary,
    run_git_next_edit,
    summarise,
)
from training.evaluation.results import ConfigMismatch

AREA = """import os


def area(width, height):
    return width * height


def perimeter(width, height):
    return 2 * (width + height)
"""


def _commit(repo: Path, files: dict[str, str | bytes], message: str) -> str:
    for name, content in files.items():
        path = repo / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True, capture_output=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _insert(text: str, before: str, lines: str) -> str:
    at = text.index(before)
    return text[:at] + lines + text[at:]


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    """A repository whose commits are, in order: the first files (root), a code insertion, a comment-only and a
    docstring-only insertion, an insertion beside a changed import, a deletion, edits of a Latin-1 and of a huge
    file. Returns the repository and the commit ids by name."""
    repo = tmp_path_factory.mktemp("history")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    latin1 = "# caf\xe9\nx = 1\n".encode("latin-1")
    huge = "".join(f"x{i} = {i}\n" for i in range(MAX_FILE_LINES + 1))
    ids = {"root": _commit(repo, {"shapes.py": AREA, "latin.py": latin1, "huge.py": huge}, "root")}
    guarded = _insert(
        AREA, "    return width * height", '    if width < 0:\n        raise ValueError("width")\n'
    )
    ids["code"] = _commit(repo, {"shapes.py": guarded}, "guard area")
    commented = _insert(guarded, "    return 2 * (width", "    # twice the half perimeter\n")
    ids["comment"] = _commit(repo, {"shapes.py": commented}, "comment")
    documented = _insert(commented, "    # twice", '    """The perimeter of a rectangle."""\n')
    ids["docstring"] = _commit(repo, {"shapes.py": documented}, "docstring")
    elsewhere = _insert(documented, "    # twice", "    assert height >= 0\n").replace(
        "import os\n", "import math\nimport sys\n"
    )
    ids["replay"] = _commit(repo, {"shapes.py": elsewhere}, "assert, imports")
    deleted = elsewhere.replace('    if width < 0:\n        raise ValueError("width")\n', "")
    ids["deletion"] = _commit(repo, {"shapes.py": deleted}, "deletion")
    ids["latin"] = _commit(repo, {"latin.py": latin1 + b"y = 2\n"}, "latin-1")
    ids["huge"] = _commit(repo, {"huge.py": huge + "y = 2\n"}, "huge")
    return {
        "repo": repo,
        "ids": ids,
        "texts": {"guarded": guarded, "documented": documented, "elsewhere": elsewhere},
    }


@pytest.fixture(scope="module")
def built(history):
    return build_cases(history["repo"])


def test_only_code_insertions_become_cases_newest_first(history, built):
    cases, stats = built
    ids = history["ids"]
    assert [c.commit for c in cases] == [ids["replay"], ids["code"]]
    assert stats.commits == len(ids) and stats.cases == 2 and stats.with_history == 1


def test_a_case_is_the_parent_file_the_insertion_line_and_the_inserted_lines(history, built):
    case = built[0][1]
    assert case.path == "shapes.py" and case.buffer == AREA
    assert case.cursor == 4  # before "    return width * height"
    assert case.truth == ("    if width < 0:", '        raise ValueError("width")')
    assert not case.has_history and case.view("replay") == case.view("plain") == (AREA, 4, ())


def test_comment_docstring_and_deletion_commits_give_no_case_and_are_counted(history, built):
    cases, stats = built
    commits = {c.commit for c in cases}
    assert not commits & {history["ids"][name] for name in ("comment", "docstring", "deletion")}
    assert stats.skipped["inserts no code"] == 2
    assert stats.skipped["root commit"] == 1


def test_non_utf8_and_huge_files_are_skipped_and_counted(built):
    _, stats = built
    assert stats.skipped["file is not UTF-8"] == 1
    assert stats.skipped[f"file over {MAX_FILE_LINES} lines"] == 1


def test_the_replay_view_applies_the_commits_other_hunks_and_gives_them_as_recent_edits(history, built):
    case = built[0][0]
    documented, elsewhere = history["texts"]["documented"], history["texts"]["elsewhere"]
    assert case.buffer == documented and case.truth == ("    assert height >= 0",)
    plain_buffer, plain_cursor, _ = case.view("plain")
    assert plain_buffer.split("\n")[plain_cursor] == "    # twice the half perimeter"
    buffer, cursor, history_edits = case.view("replay")
    # The import line became two lines, so the insertion point moved down by one.
    assert cursor == plain_cursor + 1 and buffer.startswith("import math\nimport sys\n")
    assert insert_placements(buffer, [Placement(cursor, case.truth)]).rstrip("\n") == elsewhere.rstrip("\n")
    assert history_edits == (diff_states(documented, buffer),)


def test_limit_stops_after_that_many_cases(history):
    cases, _ = build_cases(history["repo"], limit=1)
    assert [c.commit for c in cases] == [history["ids"]["replay"]]


def test_a_revision_range_reads_only_its_commits(history):
    ids = history["ids"]
    cases, stats = build_cases(history["repo"], f"{ids['code']}..{ids['replay']}")
    assert stats.commits == 3 and [c.commit for c in cases] == [ids["replay"]]


def test_zero_context_hunk_headers_give_the_insertion_line_and_the_added_lines():
    patch = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -3,0 +4,2 @@ def f():\n+    a\n+    b\n@@ -7 +9 @@\n-x\n+y"
    assert parse_hunks(patch) == [DiffHunk(3, 0, ("    a", "    b")), DiffHunk(6, 1, ("y",))]
    assert parse_hunks("@@ -0,0 +1 @@\n+import os") == [DiffHunk(0, 0, ("import os",))]


def test_docstrings_do_not_count_as_code_and_string_only_lines_start_no_code():
    assert code_of('def f():\n    """Doc."""\n    return 1') == code_of("def f():\n    return 1")
    assert code_of("def f(:") is None
    text = 'x = (\n    "a"\n    "b"\n)\ny = 1\n'
    assert not starts_code(text, 1, 2) and starts_code(text, 4, 1)


# ---------------------------------------------------------------------------------------------------------- metrics


def test_exact_compares_the_sets_of_stripped_non_blank_lines():
    assert exact(["  x = 1", "", "y = 2"], ["y = 2", "x = 1  "])
    assert not exact(["x = 1"], ["x = 1", "y = 2"])


def test_line_f1_counts_repeated_lines_and_scores_nothing_zero():
    assert line_f1(["a", "a", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)
    assert line_f1(["    a", ""], ["a"]) == 1.0
    assert line_f1([], ["a"]) == 0.0 and line_f1(["", " "], ["a"]) == 0.0


def test_edit_similarity_is_difflibs_ratio_of_the_joined_lines():
    assert edit_similarity(["x = 1"], ["    x = 1"]) == 1.0
    assert edit_similarity(["abcd"], ["abce"]) == pytest.approx(0.75)  # 2 * 3 matched / 8
    assert edit_similarity(["x"], ["yz"]) == 0.0


def test_near_means_within_three_lines_of_the_true_insertion_point():
    assert near(7, 4) and near(1, 4) and not near(8, 4) and not near(None, 0)


# ----------------------------------------------------------------------------------------------------------- runner


def _result(buffer: str, placements: list[Placement]) -> SuggestResult:
    program = insert_placements(buffer, placements)
    edit_text = diff_states(buffer, program)
    return SuggestResult([Suggestion(edit_text, parse_edit(edit_text), tuple(placements), program, 0.0)])


def fake_suggester_of_the_truth(case, variant):
    """A stand-in for the model (runner wiring only): suggests exactly the inserted lines, one line too low."""
    buffer, cursor, _ = case.view(variant)
    return _result(buffer, [Placement(cursor + 1, case.truth)])


def fake_suggester_of_nothing(case, variant):
    """A stand-in for a model that offers nothing (runner wiring only)."""
    return SuggestResult([])


def test_the_runner_scores_the_top_suggestion_per_case_and_variant(built):
    cases, _ = built
    rows = run_git_next_edit(cases, ["plain", "replay"], fake_suggester_of_the_truth)
    assert [(r["case"], r["variant"]) for r in rows] == [
        (c.key, v) for c in cases for v in ("plain", "replay")
    ]
    assert all(r["offered"] and r["exact"] and r["near"] and r["line_f1"] == 1.0 for r in rows)
    replay = rows[1]
    assert (
        replay["has_history"] and replay["cursor"] == cases[0].replay_cursor and replay["history_edits"] == 1
    )
    assert replay["placement_line"] == replay["cursor"] + 1


def test_no_suggestion_scores_zero_and_counts_as_not_offered(built):
    rows = run_git_next_edit(built[0], ["plain"], fake_suggester_of_nothing)
    assert all(
        not r["offered"] and not r["exact"] and not r["near"] and r["line_f1"] == r["edit_similarity"] == 0.0
        for r in rows
    )


def test_a_killed_run_resumes_without_asking_again_and_refuses_another_config(built, tmp_path):
    cases, _ = built
    out = tmp_path / "rows.jsonl"
    run_git_next_edit(cases[:1], ["plain"], fake_suggester_of_the_truth, config={"k": 1}, out=out)
    asked = []

    def counting(case, variant):
        asked.append((case.key, variant))
        return fake_suggester_of_the_truth(case, variant)

    rows = run_git_next_edit(cases, ["plain", "replay"], counting, config={"k": 1}, out=out)
    assert len(rows) == 4 and (cases[0].key, "plain") not in asked and len(asked) == 3
    assert len(out.read_text().splitlines()) == 4
    with pytest.raises(ConfigMismatch):
        run_git_next_edit(cases, ["plain"], counting, config={"k": 2}, out=out)


def test_the_summary_has_a_row_per_variant_and_for_the_cases_with_history():
    def row(case, variant, f1, latency, history=False):
        return {
            "case": case,
            "variant": variant,
            "has_history": history,
            "offered": f1 > 0,
            "exact": f1 == 1.0,
            "line_f1": f1,
            "edit_similarity": f1,
            "near": True,
            "latency_s": latency,
            "config": {"model": "/m/tiny", "strategy": "lintseq"},
        }

    rows = [
        row("a", "plain", 1.0, 1.0),
        row("b", "plain", 0.0, 3.0, True),
        row("b", "replay", 0.5, 2.0, True),
    ]
    summaries = {(s.variant, s.subset): s for s in summarise(rows)}
    assert set(summaries) == {
        ("plain", "all"),
        ("plain", "with history"),
        ("replay", "all"),
        ("replay", "with history"),
    }
    plain = summaries[("plain", "all")]
    assert (plain.cases, plain.exact, plain.line_f1, plain.offered) == (2, 0.5, 0.5, 0.5)
    assert plain.latency_p50_s == 2.0 and plain.latency_p95_s == pytest.approx(2.9)
    table = format_summary(summarise(rows))
    assert (
        "| tiny / lintseq | plain | 2 | 50.0% | 0.500 |" in table and "| replay (with history) | 1 |" in table
    )


def test_the_comparison_pairs_the_cases_both_runs_scored():
    a = [{"case": c, "variant": "replay", "line_f1": f} for c, f in (("x", 1.0), ("y", 0.5), ("z", 0.0))]
    b = [{"case": c, "variant": "plain", "line_f1": f} for c, f in (("x", 0.5), ("y", 0.5), ("w", 1.0))]
    d = compare_line_f1(a, b, "replay", "plain", resamples=200)
    assert d.problems == 2 and d.delta == pytest.approx(0.25) and d.low <= d.delta <= d.high
    with pytest.raises(ValueError):
        compare_line_f1(a, b, "plain")


# ---------------------------------------------------------------------------------------- with the tiny real model


@pytest.fixture(scope="module")
def known_repo(tmp_path_factory):
    """A repository whose one commit makes the tiny model's known next edit."""
    repo = tmp_path_factory.mktemp("known")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    _commit(repo, {"squares.py": KNOWN_STATES[2] + "\n"}, "start")
    _commit(repo, {"squares.py": KNOWN_STATES[3] + "\n"}, "loop")
    return repo


def test_the_tiny_model_reproduces_a_real_commit_through_suggest(tiny_model_dir, known_repo):
    from model_runtime.loading import load_model
    from model_runtime.suggestions import suggest
    from tests.support.tiny_model import KNOWN_INSTRUCTION

    loaded = load_model(tiny_model_dir, device="cpu")
    [case], _ = build_cases(known_repo)
    assert (case.cursor, case.truth) == (KNOWN_NEXT_LINE, KNOWN_NEXT_LINES)

    def suggest_case(case, variant):
        buffer, cursor, recent = case.view(variant)
        # The tiny model knows its instruction, not the one the runtime would derive from this buffer.
        return suggest(
            loaded, buffer, line=cursor, history=recent, instruction=KNOWN_INSTRUCTION, k=1, temperature=0
        )

    [row] = run_git_next_edit([case], ["plain"], suggest_case)
    assert row["exact"] and row["near"] and row["line_f1"] == 1.0


def test_eval_next_edit_git_end_to_end(tiny_model_dir, history, tmp_path):
    import torch
    from typer.testing import CliRunner

    from training.cli import app

    out = tmp_path / "git.jsonl"
    args = [
        "eval",
        "next-edit",
        "--git",
        str(history["repo"]),
        "--model",
        str(tiny_model_dir),
        "--out",
        str(out),
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(app, [*args, "--k", "1", "--temperature", "0", "--max-new-tokens", "24"])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["variant"], r["has_history"]) for r in rows) == [
        ("plain", False),
        ("plain", True),
        ("replay", False),
        ("replay", True),
    ]
    assert "| plain | 2 |" in result.output and "| replay (with history) | 1 |" in result.output
    compared = CliRunner().invoke(app, ["eval", "next-edit-compare", str(out), "--b-variant", "plain"])
    assert compared.exit_code == 0, compared.output
    assert "| replay - plain | 2 |" in compared.output


def test_cases_only_prints_the_counts_without_a_model(history):
    from typer.testing import CliRunner

    from training.cli import app

    result = CliRunner().invoke(app, ["eval", "next-edit", "--git", str(history["repo"]), "--cases-only"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.startswith("2 cases, 1 of them with history")
        and "file is not UTF-8: 1" in result.stdout
    )
