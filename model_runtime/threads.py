"""How many threads torch may use: one policy for every long-running caller (the language server, the CLI).

On 2 busy cores, decoding SmolLM2-135M with torch's default of one thread per core took 224 s for 134 tokens
against 6 s with 1 thread: torch's threads spin-wait for each other while other processes (the editor, a lint
worker, a training run) hold the cores. Half the cores leaves room for the rest of the machine.
"""

from __future__ import annotations

import os
import sys

THREADS_ENV = "EDITSEQ_THREADS"


def torch_thread_count(requested: int | None, cpu_count: int | None, environ: dict[str, str]) -> int | None:
    """The thread count to set, or None to leave torch alone (the user set OMP_NUM_THREADS).

    Precedence: an explicit request, then ``$EDITSEQ_THREADS``, then ``$OMP_NUM_THREADS`` (respected as is), then
    half the cores, at least one.
    """
    if requested is None and environ.get(THREADS_ENV, "").strip():
        try:
            requested = int(environ[THREADS_ENV])
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number, not {environ[THREADS_ENV]!r}") from None
    if requested is not None:
        if requested < 1:
            raise ValueError(f"the thread count must be at least 1, not {requested}")
        return requested
    if environ.get("OMP_NUM_THREADS", "").strip():
        return None
    return max(1, (cpu_count or 2) // 2)


def limit_torch_threads(requested: int | None = None) -> int:
    """Apply ``torch_thread_count`` to torch; returns the thread count torch now uses."""
    import torch

    count = torch_thread_count(requested, os.cpu_count(), dict(os.environ))
    if count is not None:
        torch.set_num_threads(count)
    return torch.get_num_threads()


def limit_threads_before_torch() -> int | None:
    """The same policy for a command that has not imported torch yet: sets ``$OMP_NUM_THREADS`` (read when torch
    loads) instead of importing torch; applies it directly when torch is already loaded. Returns the count set, or
    None when the user's own ``$OMP_NUM_THREADS`` stands."""
    count = torch_thread_count(None, os.cpu_count(), dict(os.environ))
    if count is None:
        return None
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
    else:
        os.environ["OMP_NUM_THREADS"] = str(count)
    return count
