"""The torch thread policy shared by the language server and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from model_runtime.threads import torch_thread_count


def test_by_default_torch_gets_half_the_cores():
    assert torch_thread_count(None, 8, {}) == 4


def test_a_single_core_machine_still_gets_one_thread():
    assert torch_thread_count(None, 1, {}) == 1


def test_omp_num_threads_set_by_the_user_is_left_alone():
    assert torch_thread_count(None, 8, {"OMP_NUM_THREADS": "3"}) is None


def test_editseq_threads_overrides_omp_num_threads():
    assert torch_thread_count(None, 8, {"EDITSEQ_THREADS": "2", "OMP_NUM_THREADS": "3"}) == 2


def test_an_explicit_request_wins_over_the_environment():
    assert torch_thread_count(6, 8, {"EDITSEQ_THREADS": "2"}) == 6


@pytest.mark.parametrize("requested, environ", [(0, {}), (None, {"EDITSEQ_THREADS": "many"})])
def test_a_bad_thread_count_is_a_clear_error(requested, environ):
    with pytest.raises(ValueError, match="thread count|whole number"):
        torch_thread_count(requested, 8, environ)


def _threads_after_eval_command(environ: dict[str, str]) -> int:
    """torch's thread count in a fresh interpreter after an `editseq eval` command has run (its group callback)."""
    script = (
        "from training.cli import app\n"
        "try:\n"
        "    app(['eval', 'scoreboard', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import torch\n"
        "print(torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "EDITSEQ_THREADS")} | environ
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_eval_commands_apply_editseq_threads_before_torch_loads():
    # Without this, two evaluations side by side each ran torch's one thread per core and spin-waited.
    assert _threads_after_eval_command({"EDITSEQ_THREADS": "1"}) == 1


def test_eval_commands_leave_the_users_omp_num_threads_alone():
    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("needs two cores to tell the user's count from half of them")
    assert _threads_after_eval_command({"OMP_NUM_THREADS": str(cores)}) == cores
