"""The LintSeq job on Ray: a local Ray cluster started here (2 CPUs) writes exactly the records of the local backend.

Ray takes a few seconds to start, so one cluster serves the module; the job joins it instead of starting its own.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.support.stdlib_programs import stdlib_functions
from training.datagen import Options, run

ray = pytest.importorskip("ray", reason="the ray backend needs the 'scale' extra")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Sixty standard-library functions, one bad line and one repeated id: enough to span several Ray tasks."""
    path = tmp_path_factory.mktemp("ray-in") / "programs.jsonl"
    rows = [json.dumps({"id": name, "instruction": name, "response": program})
            for name, program in stdlib_functions(60)]  # fmt: skip
    rows.insert(7, "not json")
    rows.append(rows[0])
    path.write_text("\n".join(rows) + "\n")
    return path


def test_ray_writes_the_same_records_as_the_local_backend(cluster, source, tmp_path):
    options = Options(samples=2, seed=3)
    local = run(source, tmp_path / "local.jsonl", options, workers=1, progress=False)
    on_ray = run(source, tmp_path / "ray.jsonl", options, workers=2, progress=False, backend="ray")
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (on_ray.written, on_ray.bad) == (local.written, local.bad) == (120, on_ray.bad)
    assert [line for line, _ in on_ray.bad] == [8, 62]


def test_a_ray_run_resumes_a_partial_output_to_the_same_records(cluster, source, tmp_path):
    options = Options(samples=2, seed=3)
    run(source, tmp_path / "local.jsonl", options, progress=False)
    partial = (tmp_path / "local.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "ray.jsonl").write_text("".join(partial[:31]) + partial[31][:10])  # torn last line
    summary = run(source, tmp_path / "ray.jsonl", options, workers=2, progress=False, backend="ray")
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert summary.skipped == 15


def test_the_command_line_takes_the_ray_backend(cluster, source, tmp_path):
    from training.cli import app

    args = ["lintseq", str(source), "-o", str(tmp_path / "out.jsonl"), "-s", "1", "-q", "--backend", "ray"]
    result = CliRunner().invoke(app, [*args, "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 60


def test_an_unknown_backend_is_refused(source, tmp_path):
    from training.cli import app

    result = CliRunner().invoke(
        app, ["lintseq", str(source), "-o", str(tmp_path / "o.jsonl"), "--backend", "spark"]
    )
    assert result.exit_code == 2
    assert "unknown backend" in result.output
