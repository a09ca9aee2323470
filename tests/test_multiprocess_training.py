"""Data-parallel finetuning smoke test: ``accelerate launch`` with two CPU processes (gloo) on a tiny model.

On GPUs the same command without ``ACCELERATE_USE_CPU`` trains one process per GPU (README: "Retrain on your code").
Two processes that each take one micro-batch per step must train exactly like one process that accumulates both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stdlib_programs import stdlib_functions
from training.lintseq import sample_edits

TRAIN_ARGS = [
    "--max-steps",
    "2",
    "--rows",
    "1",
    "--max-length",
    "512",
    "--precision",
    "fp32",
    "--threads",
    "1",
]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    path = tmp_path_factory.mktemp("records") / "records.jsonl"
    rows = [
        {"instruction": name, "edits": edits}
        for name, program in stdlib_functions(8, max_lines=12)
        for edits in sample_edits(program, samples=1, seed=0)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_training(command: list[str], cwd: Path, env: dict | None = None) -> list[dict]:
    result = subprocess.run(
        command, cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in (cwd / "run" / "metrics.jsonl").read_text().splitlines()]


def trainer_state(run: Path) -> dict:
    return json.loads((run / (run / "latest").read_text().strip() / "trainer_state.json").read_text())


@pytest.mark.skipif(
    shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None, reason="no accelerate"
)
def test_two_gloo_processes_train_exactly_like_one_accumulating_process(records, tiny_model_dir, tmp_path):
    train = ["-m", "training.cli", "train", str(records), "--model", str(tiny_model_dir), "--out", "run"]
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    launcher = [
        str(Path(sys.executable).parent / "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
    ]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    two = run_training(
        [*launcher, *train, *TRAIN_ARGS, "--grad-accum", "1"], tmp_path / "two", {"ACCELERATE_USE_CPU": "1"}
    )
    one = run_training([sys.executable, *train, *TRAIN_ARGS, "--grad-accum", "2"], tmp_path / "one")
    assert (
        trainer_state(tmp_path / "two" / "run")["micro"] == 4
    )  # two processes, one micro-batch each, two steps
    assert [(r["step"], r["tokens"]) for r in two] == [(r["step"], r["tokens"]) for r in one]
    assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=1e-5)
    assert (tmp_path / "two" / "run" / "final" / "adapter_model.safetensors").is_file()
