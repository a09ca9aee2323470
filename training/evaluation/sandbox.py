"""Run untrusted Python programs (model samples and their tests) each in its own confined process; return verdicts.

Every program gets a fresh interpreter in isolated mode (``python -I``), a fresh temporary working directory, a
scrubbed environment, a new session (its own process group), a wall-clock timeout, resource limits, and its output
captured up to a cap. What happens inside the child is in ``sandbox_prelude.py``: network namespace, rlimits, an
unprivileged user id of its own when the harness runs as root, guards on destructive functions. The harness survives
anything the program does: every failure of the program becomes a ``Verdict``, never an exception here.

Where the OS refuses a step (no network namespace, not root so no user id of its own) the run goes on without it
and ``RunResult`` says what was in force; see docs/evaluation.md for what that leaves open.
"""

from __future__ import annotations

import enum
import json
import math
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PRELUDE = Path(__file__).with_name("sandbox_prelude.py")
# Each sandboxed run as root gets uid BASE + its own pid: unique among live runs, even across harness processes,
# because the harness reaps the child only after killing every process of that uid.
SANDBOX_UID_BASE = 1_000_000
_CLEAN_ENV_KEYS = ("LANG", "LC_ALL")


class Verdict(str, enum.Enum):
    """How a sandboxed program ended. Only PASSED means it ran to its end."""

    PASSED = "passed"
    FAILED = "failed"  # raised, or exited (sys.exit, os._exit) before reaching its end
    TIMEOUT = "timeout"  # wall clock or CPU time
    MEMORY = "memory"  # MemoryError under the address-space limit
    FILE_LIMIT = "file_limit"  # wrote past the file-size limit
    OUTPUT_LIMIT = "output_limit"  # printed more than the output cap; killed
    CRASHED = "crashed"  # killed by a signal the harness did not send


@dataclass(frozen=True)
class Limits:
    """Per-program limits. ``cpu_s`` defaults to the wall-clock timeout rounded up, plus one second."""

    timeout_s: float = 3.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    processes: int = 16
    output_bytes: int = 1 << 20
    cpu_s: int | None = None
    isolate_network: bool = True

    def cpu_seconds(self) -> int:
        return self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s) + 1


@dataclass(frozen=True)
class RunResult:
    verdict: Verdict
    detail: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    isolation: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED


def run_program(source: str, limits: Limits = Limits()) -> RunResult:
    """Run one program in the sandbox and return its verdict (never raises for anything the program does)."""
    workdir = tempfile.mkdtemp(prefix="editseq-sandbox-")
    try:
        return _run_in(workdir, source, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_programs(sources: Sequence[str], limits: Limits = Limits(), workers: int = 2) -> list[RunResult]:
    """Run many programs, ``workers`` at a time; results in input order."""
    if workers <= 1 or len(sources) <= 1:
        return [run_program(s, limits) for s in sources]
    # Threads only wait on child processes, so they cost no CPU; the children run in parallel.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda s: run_program(s, limits), sources))


def _clean_env(workdir: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in _CLEAN_ENV_KEYS if k in os.environ})
    return env


def _process_budget(limits: Limits) -> int:
    """RLIMIT_NPROC counts every thread of the real user; without a uid of its own the child shares ours."""
    if os.geteuid() == 0:
        return limits.processes
    return _threads_of_uid(os.getuid()) + limits.processes


def _threads_of_uid(uid: int) -> int:
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields["Threads"])
        except (OSError, ValueError, KeyError):
            continue
    return total


def _pids_of_uid(uid: int) -> list[int]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                pids.append(int(status.parent.name))
        except (OSError, ValueError, KeyError):
            continue
    return pids


def _kill_everything(pgid: int, uid: int | None) -> None:
    """Kill the program's process group and, when it ran under a uid of its own, every process of that uid."""
    for _ in range(100):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        left = _pids_of_uid(uid) if uid is not None else []
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not left:
            return
        time.sleep(0.01)


def _exited_unreaped(pid: int) -> bool:
    """True once the child has exited; it stays a zombie (its pid, hence its uid, still ours) until we reap it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _run_in(workdir: str, source: str, limits: Limits) -> RunResult:
    nonce = secrets.token_hex(16)
    status_r, status_w = os.pipe()
    config = {
        "status_fd": status_w,
        "cpu_s": limits.cpu_seconds(),
        "memory_bytes": limits.memory_bytes,
        "file_bytes": limits.file_bytes,
        "processes": _process_budget(limits),
        "isolate_network": limits.isolate_network,
    }
    started = time.monotonic()
    # The child learns its uid on stdin, after we know its pid.
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(PRELUDE), json.dumps(config)],
            cwd=workdir,
            env=_clean_env(workdir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            start_new_session=True,
        )
    except BaseException:
        os.close(status_r)
        raise
    finally:
        os.close(status_w)
    uid = SANDBOX_UID_BASE + proc.pid if os.geteuid() == 0 else None
    try:
        proc.stdin.write(f"{nonce} {uid if uid is not None else ''}\n".encode() + source.encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out, err, over, timed_out = _collect(proc, limits, started)
    _kill_everything(proc.pid, uid)
    returncode = proc.wait()
    wall = time.monotonic() - started
    status = _read_status(status_r, nonce)
    verdict, detail = _verdict(status, returncode, over, timed_out, limits)
    isolation = {k: status[k] for k in ("network_isolated", "privileges_dropped") if k in status}
    return RunResult(
        verdict,
        detail,
        returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        round(wall, 3),
        isolation,
    )


def _collect(proc: subprocess.Popen, limits: Limits, started: float) -> tuple[bytes, bytes, bool, bool]:
    """Read stdout/stderr until the program exits, the deadline passes or the output cap is crossed."""
    buffers = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    selector = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        selector.register(stream.fileno(), selectors.EVENT_READ)
    # A pidfd becomes readable when the child exits (without reaping it), so the loop wakes at once; without one
    # (old kernels) the loop polls every few milliseconds.
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        selector.register(pidfd, selectors.EVENT_READ)
    deadline = started + limits.timeout_s
    over = timed_out = False
    try:
        while not _exited_unreaped(proc.pid):
            # Children left holding the pipes after the program exited are killed right after; no waiting for EOF.
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            wait = remaining if pidfd is not None else min(remaining, 0.005)
            for key, _ in selector.select(wait):
                if key.fd == pidfd:
                    continue
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                buffers[key.fd] += chunk
            if sum(map(len, buffers.values())) > limits.output_bytes:
                over = True
                break
        if not over and not timed_out:
            _drain(buffers, limits.output_bytes)
    finally:
        selector.close()
        if pidfd is not None:
            os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
    cap = limits.output_bytes
    out, err = (bytes(b[:cap]) for b in buffers.values())
    return out, err, over, timed_out


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _drain(buffers: dict[int, bytearray], cap: int) -> None:
    """Take what the exited program left in the pipes, without blocking on descendants that still hold them."""
    for fd, buffer in buffers.items():
        while len(buffer) <= cap:
            try:
                chunk = os.read(fd, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            buffer += chunk


def _read_status(fd: int, nonce: str) -> dict:
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 1 << 16):
            data += chunk
    except (BlockingIOError, OSError):
        pass
    finally:
        os.close(fd)
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(nonce):
            try:
                return json.loads(line[len(nonce) :])
            except json.JSONDecodeError:
                return {}
    return {}


def _verdict(
    status: dict, returncode: int, over: bool, timed_out: bool, limits: Limits
) -> tuple[Verdict, str]:
    if timed_out:
        return Verdict.TIMEOUT, f"still running after {limits.timeout_s:g} s (killed)"
    if over:
        return Verdict.OUTPUT_LIMIT, f"printed more than {limits.output_bytes} bytes (killed)"
    outcome = status.get("outcome")
    if outcome == "completed":
        return Verdict.PASSED, "ran to the end"
    if outcome == "memory":
        return Verdict.MEMORY, f"MemoryError under the {limits.memory_bytes >> 20} MiB address-space limit"
    if outcome == "file_size":
        return Verdict.FILE_LIMIT, status.get("error", "file too large")
    if outcome == "exited":
        return Verdict.FAILED, f"called sys.exit({status.get('code')}) before reaching its end"
    if outcome == "error":
        return Verdict.FAILED, status.get("error", "raised")
    if returncode < 0:
        sig = signal.Signals(-returncode)
        if sig is signal.SIGXCPU:
            return Verdict.TIMEOUT, f"killed by SIGXCPU at the {limits.cpu_seconds()} s CPU limit"
        return Verdict.CRASHED, f"killed by {sig.name}"
    return Verdict.FAILED, f"exited with status {returncode} before reaching its end"
