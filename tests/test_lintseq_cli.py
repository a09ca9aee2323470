"""`editseq lintseq`: the streaming JSONL job, its output records, bad-line report, determinism and resumption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from model_runtime.edits import parse_edit, program_states, training_text
from tests.support import stdlib_programs
from training import datagen

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample.jsonl"


def _editseq(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _write_programs(path: Path, count: int) -> Path:
    with path.open("w") as f:
        for name, source in stdlib_programs.stdlib_functions(count):
            f.write(json.dumps({"id": name, "instruction": f"Write {name}.", "response": source}) + "\n")
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_record_holds_exactly_the_documented_fields(tmp_path):
    out = tmp_path / "out.jsonl"
    result = _editseq("lintseq", str(SAMPLE), "-o", str(out), "-s", "2", "-q")
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    inputs = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    assert len(rows) == 2 * len(inputs)
    for row in rows:
        assert set(row) == {"id", "sample", "instruction", "edits", "text"}
        assert row["text"] == training_text(row["instruction"], row["edits"])
    assert [(r["id"], r["sample"]) for r in rows] == [(i["id"], k) for i in inputs for k in range(2)]


def test_the_edits_of_a_record_write_its_program(tmp_path):
    out = tmp_path / "out.jsonl"
    datagen.run(SAMPLE, out, datagen.Options(samples=2), progress=False)
    programs = {
        json.loads(line)["id"]: json.loads(line)["response"] for line in SAMPLE.read_text().splitlines()
    }
    for row in _rows(out):
        assert program_states(parse_edit(e) for e in row["edits"])[-1] == programs[row["id"]].strip()


def test_a_record_without_an_id_is_named_by_its_line_number(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"instruction": "i", "response": "x = 1\n"}) + "\n")
    out = tmp_path / "out.jsonl"
    datagen.run(source, out, datagen.Options(samples=1), progress=False)
    assert _rows(out)[0]["id"] == 1


def test_bad_lines_are_counted_and_reported_with_their_numbers(tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "ok", "instruction": "i", "response": "x = 1\n"}),
        "{not json",
        json.dumps({"id": "no-code", "instruction": "i"}),
        json.dumps({"id": "broken", "instruction": "i", "response": "def f(:\n"}),
        json.dumps({"id": "ok", "instruction": "i", "response": "y = 2\n"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "number", "instruction": "i", "response": 7}),
    ]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = _editseq("lintseq", str(source), "-o", str(out), "-s", "1", "-q")
    assert result.returncode == 0
    assert "6 bad input lines" in result.stderr
    for expected in (
        "line 2: not JSON",
        "line 3: missing field 'response'",
        "line 4: program does not parse",
        'line 5: repeated id "ok"',
        "line 6: not a JSON object",
        "line 7: field 'response' is not a string",
    ):
        assert expected in result.stderr
    assert [r["id"] for r in _rows(out)] == ["ok"]


def test_the_output_does_not_depend_on_the_worker_count(tmp_path):
    source = _write_programs(tmp_path / "in.jsonl", 60)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    datagen.run(source, one, datagen.Options(samples=2, seed=4), workers=1, progress=False)
    datagen.run(source, two, datagen.Options(samples=2, seed=4), workers=2, progress=False)
    assert one.read_bytes() == two.read_bytes()


def test_another_seed_gives_other_sequences(tmp_path):
    source = _write_programs(tmp_path / "in.jsonl", 20)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    datagen.run(source, a, datagen.Options(samples=2, seed=1), progress=False)
    datagen.run(source, b, datagen.Options(samples=2, seed=2), progress=False)
    assert a.read_bytes() != b.read_bytes()


def test_a_sample_seed_depends_on_seed_id_and_sample_only():
    assert datagen.sample_seed(0, "a", 1) == datagen.sample_seed(0, "a", 1)
    assert (
        len(
            {
                datagen.sample_seed(0, "a", 1),
                datagen.sample_seed(1, "a", 1),
                datagen.sample_seed(0, "b", 1),
                datagen.sample_seed(0, "a", 2),
                datagen.sample_seed(0, 1, 1),
                datagen.sample_seed(0, "1", 1),
            }
        )
        == 6
    )


def test_a_run_killed_midway_and_rerun_has_every_record_once(tmp_path):
    source = _write_programs(tmp_path / "in.jsonl", 300)
    expected = tmp_path / "expected.jsonl"
    datagen.run(source, expected, datagen.Options(samples=2), progress=False)

    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "training.cli", "lintseq", str(source), "-o", str(out), "-s", "2", "-q"]
    job = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 2000):
        time.sleep(0.005)
    job.send_signal(signal.SIGKILL)
    job.wait()
    partial = out.read_text().count("\n")
    assert 0 < partial < 600, "the job must be killed while it still has records to write"

    result = _editseq("lintseq", str(source), "-o", str(out), "-s", "2", "-q")
    assert result.returncode == 0, result.stderr
    keys = Counter((r["id"], r["sample"]) for r in _rows(out))
    assert max(keys.values()) == 1
    assert sorted(out.read_text().splitlines()) == sorted(expected.read_text().splitlines())


def test_a_torn_last_line_is_cut_off_and_its_record_written_again(tmp_path):
    out = tmp_path / "out.jsonl"
    datagen.run(SAMPLE, out, datagen.Options(samples=1), progress=False)
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # killed in the middle of a write
    summary = datagen.run(SAMPLE, out, datagen.Options(samples=1), progress=False)
    assert (summary.written, summary.skipped) == (1, len(lines) - 1)
    assert out.read_text() == complete


def test_a_finished_output_is_left_as_it_is(tmp_path):
    out = tmp_path / "out.jsonl"
    datagen.run(SAMPLE, out, datagen.Options(samples=2), progress=False)
    before = out.read_bytes()
    summary = datagen.run(SAMPLE, out, datagen.Options(samples=2), progress=False)
    assert summary.written == 0
    assert out.read_bytes() == before


def test_asking_for_more_samples_later_adds_only_the_new_ones(tmp_path):
    out = tmp_path / "out.jsonl"
    datagen.run(SAMPLE, out, datagen.Options(samples=1), progress=False)
    datagen.run(SAMPLE, out, datagen.Options(samples=2), progress=False)
    fresh = tmp_path / "fresh.jsonl"
    datagen.run(SAMPLE, fresh, datagen.Options(samples=2), progress=False)
    assert sorted(out.read_text().splitlines()) == sorted(fresh.read_text().splitlines())


def test_other_field_names_can_be_chosen(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "prompt": "Say hi.", "code": "print('hi')\n"}) + "\n")
    out = tmp_path / "out.jsonl"
    result = _editseq(
        "lintseq",
        str(source),
        "-o",
        str(out),
        "-s",
        "1",
        "-q",
        "--code-field",
        "code",
        "--instruction-field",
        "prompt",
    )
    assert result.returncode == 0, result.stderr
    assert _rows(out)[0]["instruction"] == "Say hi."


def test_show_prints_each_sequence_readably(tmp_path):
    result = _editseq("lintseq", str(SAMPLE), "-o", str(tmp_path / "out.jsonl"), "-s", "1", "--show")
    assert result.returncode == 0, result.stderr
    assert "id sample-0 · sample 0" in result.stdout
    assert "edit 1" in result.stdout and "@@ -0,0 +1" in result.stdout


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("x = 1\n", "x = 1\n"),
        (
            "Here:\n```python\nx = 1\n```\nand\n```python\ny = 2\n```\n",
            "x = 1\n\n\ny = 2",
        ),  # as the reference joins
        ("```python\nx = 1\n", "x = 1"),
    ],
)
def test_code_is_taken_from_fenced_blocks_when_there_are_any(response, code):
    assert datagen.extract_code(response) == code


def test_overwrite_starts_the_output_afresh(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "stale", "sample": 0}\n')
    result = _editseq("lintseq", str(SAMPLE), "-o", str(out), "-s", "1", "-q", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert "stale" not in out.read_text()
    assert len(_rows(out)) == len(SAMPLE.read_text().splitlines())
