"""When diagnostics are computed and published: the first change after a quiet spell is linted at once; changes
during a lint coalesce into one more lint after ``LINT_DEBOUNCE_S``. Pyflakes runs in a worker process
(lsp_server.diagnostics) that keeps each document's last check, so only what changed is checked again."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from lsprotocol import types

from lsp_server.diagnostics import lint_diagnostics, quiet_worker, worker_lint

logger = logging.getLogger(__name__)

# Storms of changes are linted at most this often; the first change after a quiet spell is linted at once.
LINT_DEBOUNCE_S = 0.05
# Beyond this size a buffer is not linted (a minified bundle, a data file).
MAX_LINT_CHARS = 5_000_000


class LintScheduler:
    """Lints open documents off the event loop and publishes their diagnostics, one lint per document at a time.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``docs``,
    ``text_of``, ``spawn`` and ``text_document_publish_diagnostics``.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self._running: set[str] = set()
        self._dirty: set[str] = set()
        self._pool: ProcessPoolExecutor | None = None

    def schedule(self, uri: str) -> None:
        """Lint now if no lint of ``uri`` runs; otherwise once more after it (storms coalesce)."""
        if uri in self._running:
            self._dirty.add(uri)
            return
        self._running.add(uri)
        self.server.spawn(self._loop(uri))

    async def _loop(self, uri: str) -> None:
        server = self.server
        try:
            while uri in server.docs:
                self._dirty.discard(uri)
                state, text = server.text_of(uri)
                version = state.version
                if len(text) > MAX_LINT_CHARS:
                    findings, diagnostics = [], []
                else:
                    findings, diagnostics = await self.lint(text, uri)
                if uri in server.docs:
                    state.lint, state.lint_version = findings, version
                    server.text_document_publish_diagnostics(
                        types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
                    )
                if uri not in self._dirty:
                    return
                await asyncio.sleep(LINT_DEBOUNCE_S)
        finally:
            self._running.discard(uri)

    async def lint(self, text: str, uri: str | None) -> tuple[list, list[types.Diagnostic]]:
        """Pyflakes in a worker process: in a thread it shares the GIL with the event loop and the decoding model
        thread, which measured twice as slow (benchmarks/lsp_latency.py); falls back to a thread if the process
        cannot run. The worker keeps each document's last check (by ``uri``) and re-checks only what changed."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=quiet_worker
            )
        try:
            return await loop.run_in_executor(self._pool, worker_lint, text, uri)
        except (BrokenProcessPool, OSError) as exc:
            logger.warning("lint worker process failed (%s); linting in a thread", exc)
            self._pool = None
            return await asyncio.to_thread(lint_diagnostics, text, uri)
