"""The model's life in the server: lazy background load, state, and one worker thread for everything it runs.

One thread owns the model: loading and every generation run there in order, so the asyncio event loop only ever
awaits them and a 2-core laptop is never asked to decode two things at once. The state machine is
idle -> loading -> ready | error; ``reload`` starts over from the current settings.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lsp_server.settings import Settings
from model_runtime.threads import limit_torch_threads

IDLE, LOADING, READY, ERROR = "idle", "loading", "ready", "error"


def load_for(settings: Settings) -> Any:
    """Load the model the settings name: ``modelPath`` (a registry name such as ``qwen2.5-coder-1.5b-instruct``, or a
    path), else the registry's default model, with the settings' ``quantize`` (``auto``: ``$EDITSEQ_QUANTIZE``, else
    the registry entry's ``cpu_quantize``, where it can apply; an explicit int8 on a device without the int8 kernel
    fails the load with the reason; a registry name that is not installed fails with the install command).

    Always from disk: the runtime's in-process model cache is emptied first, so a reload picks up weights rewritten
    in place (``editseq retrain`` into the same directory) and a model switched away from is not kept in memory
    (the host holds the one model in use)."""
    from model_runtime.loading import clear_cache

    limit_torch_threads()
    clear_cache()
    quantize = None if settings.quantize == "auto" else settings.quantize  # None: the loader decides
    try:
        if settings.model_path:
            from model_runtime.loading import load_model

            return load_model(settings.model_path, device=settings.device, quantize=quantize)
        from model_runtime.default_model import load_default

        return load_default(device=settings.device, quantize=quantize)
    finally:
        freeze_heap()


def freeze_heap() -> None:
    """Move everything alive now (torch, transformers, the model: over a million objects) out of the cyclic
    garbage collector's sight. Otherwise every full collection scans it all, and a full collection triggered by
    pyflakes in a suggestion's validation stalls the whole server, event loop included, for a tenth of a second
    and more (benchmarks/lsp_latency.py, diagnostics while the model prefetches). Unfrozen first, so that a model
    replaced by a reload is collected rather than kept frozen."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelHost:
    """Holds the loaded model (or why there is none) and runs work on the model thread."""

    def __init__(self, loader: Callable[[Settings], Any] = load_for):
        self._loader = loader
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="editseq-model")
        self.state = IDLE
        self.loaded: Any = None
        self.error: str | None = None
        self.model_name: str | None = None
        self.quantize: str | None = None  # asked for while loading; as applied once loaded
        self.latency_ms: dict[str, float] = {}
        self.cache_hits = 0  # suggestions answered from the prefetch cache
        self.prefetches = 0  # suggestions computed ahead of a request, while the user was idle
        self.widened = 0  # second passes (settings.greedy_first) whose sampled candidates joined a list
        self._generation = 0  # bumps on every (re)load so a stale load never overwrites a newer one

    async def load(self, settings: Settings) -> bool:
        """Load (or reload) from ``settings`` on the model thread; returns whether the model is ready."""
        self._generation += 1
        generation = self._generation
        self.state, self.error, self.loaded = LOADING, None, None
        self.model_name = settings.model_path or "default"
        self.quantize = None if settings.quantize == "auto" else settings.quantize  # auto: known once loaded
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            loaded = await loop.run_in_executor(self._executor, self._loader, settings)
        except Exception as exc:  # any loader failure degrades to "no model"; diagnostics keep working
            if generation == self._generation:
                self.state, self.error = ERROR, f"{type(exc).__name__}: {exc}"
            return False
        if generation != self._generation:
            return False
        self.loaded, self.state = loaded, READY
        # A registry name, else an adapter (a retrained model directory): what the user chose; the base is shared.
        chosen = getattr(loaded, "name", None) or getattr(loaded, "adapter", None)
        self.model_name = str(chosen or getattr(loaded, "source", self.model_name))
        self.quantize = getattr(loaded, "quantization", self.quantize)
        self.latency_ms["load"] = round((time.perf_counter() - started) * 1000, 1)
        return True

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(loaded, *args, **kwargs)`` on the model thread; the caller passes its own cancel Event."""
        if self.state != READY:
            raise RuntimeError(f"model is {self.state}")
        loaded = self.loaded
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(loaded, *args, **kwargs))

    def status(self) -> dict[str, Any]:
        """The ``editseq.status`` object: state, model, device, quantize, error and last latencies."""
        device = getattr(self.loaded, "device", None)
        status: dict[str, Any] = {
            "state": self.state,
            "model": self.model_name,
            "device": device,
            "quantize": self.quantize,
        }
        if self.error:
            status["error"] = self.error
        if self.latency_ms:
            status["latency_ms"] = dict(self.latency_ms)
        status["cache_hits"], status["prefetches"] = self.cache_hits, self.prefetches
        status["widened"] = self.widened
        return status

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class CancelGroup:
    """Cancel Events of running work, by document; ``cancel`` sets them so generation stops at the next step."""

    def __init__(self) -> None:
        self._events: dict[str | None, set[threading.Event]] = {}

    def new(self, uri: str | None) -> threading.Event:
        event = threading.Event()
        self._events.setdefault(uri, set()).add(event)
        return event

    def done(self, uri: str | None, event: threading.Event) -> None:
        events = self._events.get(uri)
        if events is not None:
            events.discard(event)
            if not events:
                del self._events[uri]

    def cancel(self, uri: str | None = None) -> int:
        """Set the Events of ``uri`` (all documents when None); returns how many were running."""
        keys = list(self._events) if uri is None else [uri]
        count = 0
        for key in keys:
            for event in self._events.pop(key, set()):
                event.set()
                count += 1
        return count
