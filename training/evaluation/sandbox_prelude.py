"""The first code a sandboxed program's interpreter runs: confine this process, then run the program, then report.

Started by ``training.evaluation.sandbox`` as ``python -I sandbox_prelude.py CONFIG_JSON`` in a fresh temporary
directory and a new session. It reads a line ``NONCE [UID]`` and then the program source from stdin, then, in order:

1. moves into a new network namespace (only a loopback that is down: nothing is reachable), when the OS lets it;
2. sets the resource limits (address space, CPU seconds, file size, number of processes, no core files);
3. when started as root, switches to an unprivileged user id of its own (so that RLIMIT_NPROC is enforced at all,
   the kernel exempts root, and the harness can kill every process of that id afterwards), keeping only the
   capability to *read* files, because the interpreter may live in a directory only root can enter;
4. disables destructive functions of ``os``, ``shutil``, ``subprocess`` and ``socket``, and refuses to open files
   for writing outside the temporary directory;
5. runs the program as ``__main__`` and writes one status line, prefixed by the nonce, to the status pipe; the nonce
   lets the harness tell a finished program from one that wrote a fake status or quit early.

It imports nothing from this project: ``-I`` keeps the project off ``sys.path``, and the file must stay runnable by
an interpreter that has only the standard library.
"""

import builtins
import ctypes
import errno
import json
import os
import resource
import signal
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_KEEPCAPS = 8
CAP_DAC_READ_SEARCH = 2
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def isolate_network(libc) -> bool:
    """Enter a fresh network namespace; True when it worked (root, or unprivileged user namespaces allowed)."""
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    return libc.unshare(flags) == 0


def set_limits(config: dict) -> None:
    """Apply the resource limits; the CPU hard limit is one second past the soft one (SIGXCPU, then SIGKILL)."""
    cpu = int(config["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (config["memory_bytes"], config["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config["file_bytes"], config["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (config["processes"], config["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _has_capability(bit: int) -> bool:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _readable_by_anyone(path: str) -> bool:
    """Every directory above ``path`` can be entered by other users (so a new uid can still import from it)."""
    import stat

    path = os.path.realpath(path)
    while path != os.path.dirname(path):
        path = os.path.dirname(path)
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
    return True


def drop_privileges(libc, uid: int, workdir: str) -> bool:
    """Become ``uid`` (group too), keeping only CAP_DAC_READ_SEARCH when we have it; True on success.

    Without that capability (a container that withholds it) the switch is made only when the interpreter's files are
    reachable by any user; otherwise the program would fail on its first import, and we stay as we are.
    """
    keep = _has_capability(CAP_DAC_READ_SEARCH)
    if not keep and not all(_readable_by_anyone(p) for p in (os.__file__, json.__file__, sys.executable)):
        return False
    try:
        os.chown(workdir, uid, uid)
        if libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
            return False
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        data[0].effective = data[0].permitted = (1 << CAP_DAC_READ_SEARCH) if keep else 0
        if libc.capset(ctypes.byref(header), data) != 0:
            return False
        libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
    except OSError:
        return False
    return os.getuid() == uid


def _disabled(name: str):
    def refuse(*args, **kwargs):
        raise PermissionError(f"{name} is disabled in the EditSeq sandbox")

    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


DESTRUCTIVE = {
    "os": [
        "kill", "killpg", "system", "popen", "fork", "forkpty", "setsid", "setpgid", "setpgrp", "setuid",
        "setgid", "seteuid", "setegid", "setreuid", "setregid", "setresuid", "setresgid", "remove", "unlink",
        "rmdir", "removedirs", "rename", "renames", "replace", "truncate", "ftruncate", "chmod", "fchmod",
        "lchmod", "chown", "fchown", "lchown", "chroot", "fchdir", "link", "symlink",
        "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnl", "spawnle",
        "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp",
    ],
    "shutil": ["rmtree", "move", "chown", "copy", "copy2", "copyfile", "copytree"],
    "subprocess": ["Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"],
    "socket": ["socket", "socketpair", "create_connection", "create_server", "getaddrinfo", "fromfd"],
}  # fmt: skip


def guard_functions() -> None:
    """Replace destructive functions with ones that raise PermissionError (a guard rail, not a security boundary)."""
    import shutil
    import socket
    import subprocess

    modules = {"os": os, "shutil": shutil, "subprocess": subprocess, "socket": socket}
    for module_name, names in DESTRUCTIVE.items():
        for name in names:
            if hasattr(modules[module_name], name):
                setattr(modules[module_name], name, _disabled(f"{module_name}.{name}"))


def guard_writes(workdir: str) -> None:
    """Refuse to open a file for writing unless it lies inside ``workdir`` (or is a /dev/null-like device)."""
    import io

    real_open, real_os_open = builtins.open, os.open
    root = os.path.realpath(workdir) + os.sep
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def check(path) -> None:
        if isinstance(path, int):
            return
        full = os.path.realpath(os.fsdecode(path))
        if not (full + os.sep).startswith(root) and full != os.devnull:
            raise PermissionError(
                errno.EACCES, "writing outside the sandbox directory is refused", os.fsdecode(path)
            )

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            check(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & write_flags:
            check(path)
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = guarded_open
    os.open = guarded_os_open


def run(source: str) -> dict:
    """Run the program as ``__main__``; the status says how it ended."""
    namespace = {"__name__": "__main__", "__builtins__": builtins, "__file__": "program.py"}
    try:
        exec(compile(source, "program.py", "exec"), namespace)
    except SystemExit as stop:
        return {"outcome": "exited", "code": str(stop.code)}
    except MemoryError:
        return {"outcome": "memory", "error": "MemoryError"}
    except BaseException as error:  # noqa: BLE001 - whatever the program raises is its verdict, never ours
        import traceback

        traceback.print_exc()
        if isinstance(error, OSError) and error.errno == errno.EFBIG:
            return {"outcome": "file_size", "error": f"{type(error).__name__}: {error}"}
        return {"outcome": "error", "error": f"{type(error).__name__}: {error}"[:500]}
    return {"outcome": "completed"}


def main() -> None:
    config = json.loads(sys.argv[1])
    nonce, _, uid = sys.stdin.readline().strip().partition(" ")
    source = sys.stdin.read()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    status_fd = config["status_fd"]
    workdir = os.getcwd()

    libc = _libc()
    facts = {"network_isolated": bool(config["isolate_network"]) and isolate_network(libc)}
    set_limits(config)
    facts["privileges_dropped"] = bool(uid) and drop_privileges(libc, int(uid), workdir)
    # Past the file-size limit, Python then sees EFBIG instead of being killed by SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    guard_functions()
    guard_writes(workdir)
    write, exit_now = os.write, os._exit  # kept before the program can touch them

    status = run(source)
    status.update(facts)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - a closed or broken stdout must not cost the status line
        pass
    try:
        write(status_fd, (nonce + json.dumps(status) + "\n").encode())
    except OSError:
        pass
    exit_now(0)


if __name__ == "__main__":
    main()
