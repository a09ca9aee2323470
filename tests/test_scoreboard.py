"""The scoreboard: several models' results files on HumanEval, accept-until-done and next edits, side by side, with
paired differences from a reference row; and `editseq eval scoreboard` on such a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.cli import app
from training.evaluation import accept_until_done, git_next_edit
from training.evaluation.compare import paired_bootstrap
from training.evaluation.scoreboard import differences, load_scoreboard, scoreboard_markdown

WELL_FORMED, BROKEN = "@@ -0,0 +1 @@\n+x = 1", "@@ broken"


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path.name


def _humaneval(path: Path, mode: str, passed: list[int], raws: list[str]) -> str:
    """As `eval humaneval` writes it: n = 2 per problem."""
    config = {"model": "m", "mode": mode, "chat": True}
    return _write(path, [
        {"task_id": f"HumanEval/{i}", "config": config, "n": 2, "passed": c,
         "samples": [{"verdict": "passed" if s < c else "failed", "raw": raws[s]} for s in range(2)]}
        for i, c in enumerate(passed)
    ])  # fmt: skip


def _aud(path: Path, passed: list[int]) -> str:
    config = {"benchmark": "accept-until-done", "model": "m"}
    return _write(path, [{"task_id": f"HumanEval/{i}", "config": config, "n": 1, "passed": p}
                         for i, p in enumerate(passed)])  # fmt: skip


def _next_edit(path: Path, replay_f1: list[float]) -> str:
    """Replay rows with these line F1s, plus plain rows (which a replay scoreboard must not read)."""
    rows = [{"case": f"c{i}", "variant": "replay", "line_f1": f} for i, f in enumerate(replay_f1)]
    rows += [{"case": f"c{i}", "variant": "plain", "line_f1": 1.0} for i in range(len(replay_f1))]
    return _write(path, rows)


@pytest.fixture
def board(tmp_path):
    base = {
        "label": "base",
        "humaneval": _humaneval(tmp_path / "he-base.jsonl", "code", [2, 0], [WELL_FORMED, BROKEN]),
        "accept_until_done": _aud(tmp_path / "aud-base.jsonl", [1, 0, 1, 0]),
        "next_edit": _next_edit(tmp_path / "ne-base.jsonl", [0.5, 0.0]),
    }
    adapter = {
        "label": "adapter",
        "humaneval": _humaneval(tmp_path / "he-adapter.jsonl", "lintseq", [2, 2], [WELL_FORMED, BROKEN]),
        "accept_until_done": _aud(tmp_path / "aud-adapter.jsonl", [1, 1, 1, 0]),
        "next_edit": _next_edit(tmp_path / "ne-adapter.jsonl", [0.5, 1.0]),
    }
    twin = {
        "label": "twin",
        "humaneval": _humaneval(tmp_path / "he-twin.jsonl", "baseline", [1, 1], [BROKEN] * 2),
    }
    spec = tmp_path / "board.json"
    spec.write_text(json.dumps({"reference": "base", "ks": [1, 2], "rows": [base, adapter, twin]}))
    return spec


def test_the_scores_table_reads_each_benchmark_and_counts_its_cases(board):
    text = scoreboard_markdown(load_scoreboard(board))
    assert (
        "| base | 50.0 (2) | 50.0 (2) | - | 50.0 (4) | 0.250 (2) |" in text
    )  # well-formed: not a lintseq run
    assert "| adapter | 100.0 (2) | 100.0 (2) | 50.0 | 75.0 (4) | 0.750 (2) |" in text
    assert "| twin | 50.0 (2) | 100.0 (2) | - | - | - |" in text  # a row without files shows dashes


def test_the_differences_are_the_compare_commands_numbers(board):
    loaded = load_scoreboard(board)
    base, adapter, twin = loaded.rows
    found = differences(adapter, base, loaded)
    read = lambda row, name: [json.loads(line) for line in row.files[name].read_text().splitlines()]  # noqa: E731
    for expected in paired_bootstrap(read(adapter, "humaneval"), read(base, "humaneval"), [1, 2]):
        assert found[f"pass@{expected.k}"] == expected
    assert found["accept-until-done"] == accept_until_done.compare_pass(
        read(adapter, "accept_until_done"), read(base, "accept_until_done")
    )
    assert found["next edit"] == git_next_edit.compare_line_f1(
        read(adapter, "next_edit"), read(base, "next_edit"), "replay"
    )
    assert found["next edit"].delta == pytest.approx(0.5)
    text = scoreboard_markdown(loaded)
    d = found["accept-until-done"]
    assert f"+25.0 ({100 * d.low:+.1f} to {100 * d.high:+.1f}; 4)" in text
    assert "| twin | +0.0 " in text and text.rstrip().endswith("| - | - |")  # twin: HumanEval only
    assert "| base |" not in text.split("Paired differences")[1]  # the reference has no difference row


@pytest.mark.parametrize(
    "spec, message",
    [
        ("not json", "cannot read scoreboard"),
        ({"rows": []}, "non-empty list 'rows'"),
        ({"rows": [{"humaneval": "x"}]}, "needs a 'label'"),
        ({"rows": [{"label": "a", "humaneval_typo": "x"}]}, "unknown benchmarks"),
        ({"rows": [{"label": "a", "humaneval": "missing.jsonl"}]}, "no such results file"),
        ({"reference": "b", "rows": [{"label": "a"}]}, "reference 'b' is not one of the rows"),
    ],
)
def test_a_bad_scoreboard_is_refused_with_the_reason(tmp_path, spec, message):
    path = tmp_path / "board.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    with pytest.raises(ValueError, match=message):
        load_scoreboard(path)


def test_the_command_prints_the_tables_and_writes_them(board, tmp_path):
    out = tmp_path / "docs" / "scoreboard.md"
    result = CliRunner().invoke(app, ["eval", "scoreboard", str(board), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| adapter | 100.0 (2) |" in result.output
    assert (
        out.read_text().startswith("HumanEval pass@k") and "Paired differences from base" in out.read_text()
    )
    board.write_text("{}")
    result = CliRunner().invoke(app, ["eval", "scoreboard", str(board)])
    assert result.exit_code == 1 and "non-empty list 'rows'" in result.output
