"""The sandbox: ordinary programs get the right verdict, hostile ones are contained and leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from training.evaluation.sandbox import Limits, Verdict, run_program, run_programs

FAST = Limits(timeout_s=2.0)


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _live_pids_in_group(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.fixture(scope="module")
def isolation() -> dict:
    """What this machine lets the sandbox enforce (network namespace, a uid of its own)."""
    return run_program("pass").isolation


@pytest.fixture(scope="module")
def process_limit_enforced(isolation) -> None:
    """Skip unless RLIMIT_NPROC binds the child: the kernel exempts root, so as root only a uid of its own does."""
    if os.geteuid() == 0 and not isolation.get("privileges_dropped"):
        pytest.skip(
            "root without a sandbox uid: RLIMIT_NPROC would not bind, so no real fork bomb is started"
        )


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the sandbox with a file the programs will try to destroy."""
    (tmp_path / "precious.txt").write_text("do not touch\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(os.urandom(64))
    return tmp_path


def test_a_program_that_runs_to_its_end_passes_and_its_output_is_captured():
    result = run_program("print('hello from the sandbox')")
    assert result.verdict is Verdict.PASSED
    assert result.stdout == "hello from the sandbox\n"


def test_a_failing_assertion_fails_with_the_exception_named():
    result = run_program("def f():\n    return 1\nassert f() == 2, 'wrong answer'")
    assert result.verdict is Verdict.FAILED
    assert "AssertionError: wrong answer" in result.detail


def test_a_syntax_error_fails():
    assert run_program("def f(:\n    pass").verdict is Verdict.FAILED


def test_the_program_runs_in_a_fresh_empty_working_directory_with_a_scrubbed_environment():
    result = run_program(
        "import os, json; print(json.dumps([os.getcwd(), os.listdir('.'), dict(os.environ)]))"
    )
    cwd, listing, env = json.loads(result.stdout)
    assert Path(cwd).name.startswith("editseq-sandbox-") and listing == []
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "LANG", "LC_ALL"}
    assert not Path(cwd).exists(), "the working directory is removed afterwards"


def test_an_infinite_loop_times_out_on_the_wall_clock():
    started = time.monotonic()
    result = run_program("while True:\n    pass", Limits(timeout_s=1.0))
    assert result.verdict is Verdict.TIMEOUT
    assert time.monotonic() - started < 3.0


def test_a_sleeping_program_times_out_too():
    assert run_program("import time; time.sleep(60)", Limits(timeout_s=0.5)).verdict is Verdict.TIMEOUT


def test_a_memory_bomb_hits_the_address_space_limit():
    result = run_program("hog = bytearray(20 * 2**30)\nhogs = [bytearray(2**26) for _ in range(10**6)]")
    assert result.verdict is Verdict.MEMORY


def test_a_growing_memory_bomb_hits_the_address_space_limit():
    result = run_program("hogs = []\nwhile True:\n    hogs.append(bytearray(2**24))", Limits(timeout_s=5.0))
    assert result.verdict is Verdict.MEMORY


def test_a_ten_gigabyte_write_stops_at_the_file_size_limit():
    program = (
        "with open('big.bin', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(bytes(2**20))"
    )
    result = run_program(program, Limits(timeout_s=5.0, file_bytes=4 << 20))
    assert result.verdict is Verdict.FILE_LIMIT
    assert "File too large" in result.detail


def test_printing_a_hundred_megabytes_is_cut_off_at_the_output_cap():
    started = time.monotonic()
    result = run_program(
        "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)", Limits(timeout_s=10.0)
    )
    assert result.verdict is Verdict.OUTPUT_LIMIT
    assert len(result.stdout) <= Limits().output_bytes
    assert time.monotonic() - started < 5.0


def test_sys_exit_before_the_end_is_a_failure_even_with_status_zero():
    result = run_program("import sys\nsys.exit(0)\nassert False")
    assert result.verdict is Verdict.FAILED
    assert "sys.exit(0)" in result.detail


def test_os_exit_before_the_end_is_a_failure_even_with_status_zero():
    result = run_program("import os\nos._exit(0)\nassert False")
    assert result.verdict is Verdict.FAILED
    assert result.returncode == 0


def test_a_fake_status_line_does_not_make_a_program_pass():
    program = 'import os\nfor fd in range(3, 20):\n    try: os.write(fd, b\'{"outcome": "completed"}\\n\')\n    except OSError: pass\nos._exit(0)'
    assert run_program(program).verdict is Verdict.FAILED


def test_environment_secrets_are_not_visible(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EDITSEQ_TEST_SECRET", "hunter2-secret-value")
    program = (
        "import os\nprint(dict(os.environ))\n"
        "for path in ('/proc/self/environ', f'/proc/{os.getppid()}/environ'):\n"
        "    try:\n        print(open(path, 'rb').read())\n    except OSError as e:\n        print('refused', e)"
    )
    result = run_program(program)
    assert result.verdict is Verdict.PASSED
    assert "hunter2" not in result.stdout + result.stderr
    assert "EDITSEQ_TEST_SECRET" not in result.stdout


def test_deleting_files_outside_the_sandbox_is_refused_and_nothing_is_touched(outside: Path):
    before = _snapshot(outside)
    attempts = [
        f"import os; os.remove({str(outside / 'precious.txt')!r})",
        f"import shutil; shutil.rmtree({str(outside)!r})",
        f"import pathlib; pathlib.Path({str(outside / 'precious.txt')!r}).unlink()",
        f"open({str(outside / 'precious.txt')!r}, 'w').write('gone')",
        f"import os; os.rename({str(outside / 'sub')!r}, {str(outside / 'moved')!r})",
        f"import subprocess; subprocess.run(['rm', '-rf', {str(outside)!r}])",
        "import os; os.system('rm -rf /tmp/*')",
    ]
    results = run_programs(attempts, FAST)
    assert [r.verdict for r in results] == [Verdict.FAILED] * len(attempts)
    assert all("PermissionError" in r.detail for r in results)
    assert _snapshot(outside) == before


def test_low_level_deletes_that_skip_the_guards_are_stopped_by_the_unprivileged_uid(isolation, outside: Path):
    if not isolation.get("privileges_dropped"):
        pytest.skip(
            "no sandbox uid here (not root, or root without CAP_DAC_READ_SEARCH): see docs/evaluation.md"
        )
    before = _snapshot(outside)
    program = (
        f"import posix\nposix.unlink({str(outside / 'precious.txt')!r})\n"
        f"fd = posix.open({str(outside / 'sub' / 'data.bin')!r}, posix.O_WRONLY | posix.O_TRUNC)"
    )
    result = run_program(program, FAST)
    assert result.verdict is Verdict.FAILED and "PermissionError" in result.detail
    assert _snapshot(outside) == before


def test_files_inside_the_sandbox_can_be_written():
    program = "import os\nopen('a.txt', 'w').write('x')\nos.makedirs('d/e')\nprint(sorted(os.listdir('.')))"
    result = run_program(program)
    assert result.verdict is Verdict.PASSED and result.stdout.strip() == "['a.txt', 'd']"


def test_a_fork_bomb_through_os_fork_is_refused():
    result = run_program("import os\nwhile True:\n    os.fork()", FAST)
    assert result.verdict is Verdict.FAILED and "os.fork is disabled" in result.detail


def test_a_fork_bomb_that_bypasses_the_guard_is_bounded_by_the_process_limit_and_fully_killed(
    process_limit_enforced,
):
    # Children that cannot fork any more sleep instead of spinning, to spare the shared machine's two cores; the
    # growth up to the limit is exponential as in a real fork bomb.
    program = (
        "import ctypes, os, time\nlibc = ctypes.CDLL(None)\nprint(os.getpgrp(), flush=True)\n"
        "while True:\n    if libc.fork() < 0:\n        time.sleep(0.05)"
    )
    limits = Limits(timeout_s=1.5, processes=8)
    result = run_program(program, limits)
    assert result.verdict is Verdict.TIMEOUT
    pgid = int(result.stdout.split()[0])
    assert _live_pids_in_group(pgid) == []


def test_forked_children_count_against_the_process_limit_and_do_not_outlive_their_parent(
    process_limit_enforced,
):
    program = (
        "import ctypes, os, time\nlibc = ctypes.CDLL(None)\nprint(os.getpgrp(), flush=True)\nforked = 0\n"
        "while forked < 1000:\n    pid = libc.fork()\n    if pid == 0:\n        time.sleep(120)\n        os._exit(0)\n"
        "    if pid < 0:\n        break\n    forked += 1\nprint(forked, flush=True)"
    )
    result = run_program(program, Limits(timeout_s=3.0, processes=6))
    assert result.verdict is Verdict.PASSED
    pgid, forked = map(int, result.stdout.split())
    assert forked < 6
    assert _live_pids_in_group(pgid) == []


def test_the_network_is_unreachable(isolation):
    guarded = run_program("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)", FAST)
    assert guarded.verdict is Verdict.FAILED and "disabled" in guarded.detail
    if not isolation.get("network_isolated"):
        pytest.skip("no network namespace here: only the socket guard applies (see docs/evaluation.md)")
    raw = run_program(
        "import _socket\ns = _socket.socket()\ns.settimeout(1)\ns.connect(('1.1.1.1', 53))", FAST
    )
    assert raw.verdict is Verdict.FAILED and "unreachable" in raw.detail


def test_the_harness_survives_a_program_that_tries_to_kill_it(isolation):
    if not isolation.get("privileges_dropped"):
        pytest.skip(
            "without a sandbox uid a program could signal the harness; only the os.kill guard applies"
        )
    program = (
        "import ctypes, os, signal\nctypes.CDLL(None).kill(os.getppid(), signal.SIGKILL)\nprint('still here')"
    )
    assert run_program(program, FAST).verdict is Verdict.PASSED  # the kill was refused, the harness is alive


def test_a_program_that_closes_its_output_still_gets_a_verdict():
    result = run_program("import os\nos.close(1)\nos.close(2)\nassert 1 + 1 == 2")
    assert result.verdict is Verdict.PASSED


def test_parallel_workers_keep_input_order_and_run_concurrently():
    programs = [f"import time\ntime.sleep(1.5)\nprint({i})" for i in range(4)]
    started = time.monotonic()
    results = run_programs(programs, Limits(timeout_s=30.0), workers=4)
    assert [r.stdout.strip() for r in results] == ["0", "1", "2", "3"]
    # One after another they would sleep 6 s alone; the margin is for process start-up on a busy machine.
    assert time.monotonic() - started < 6.0


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_child_that_leaves_the_process_group_is_still_killed(isolation):
    if not isolation.get("privileges_dropped"):
        pytest.skip("only the process group is killed without a uid of its own (see docs/evaluation.md)")
    program = (
        "import ctypes, os, time\nlibc = ctypes.CDLL(None)\npid = libc.fork()\n"
        "if pid == 0:\n    libc.setsid()\n    time.sleep(120)\n    os._exit(0)\nprint(pid, flush=True)"
    )
    result = run_program(program, FAST)
    assert result.verdict is Verdict.PASSED
    assert not _alive(int(result.stdout))
