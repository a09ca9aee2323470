"""Suggestions for a document's current version: computed on the model thread, cached per line and per prompt focus,
prefetched while the user is idle, shared by concurrent requests, cancelled when stale, and logged.

Requests for the same (document, version, focus) join one computation; it stops only when the last of them
leaves (``$/cancelRequest``) or the document changes. What code actions and inline completion showed is kept per
document, so that a later buffer equal to a shown suggestion's program is logged as accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pygls.exceptions import JsonRpcContentModified, JsonRpcException

from lsp_server.diagnostics import KEPT_DOCUMENTS
from lsp_server.model_host import READY
from lsp_server.model_lifecycle import RequestFailed
from model_runtime.edits import normalise
from model_runtime.incremental_lint import IncrementalLint
from model_runtime.outline import Outline, OutlineTracker
from model_runtime.prompts import prompt_focus

T = TypeVar("T")


@dataclass
class Computed:
    """A SuggestResult together with the buffer state it was computed for."""

    version: int
    line: int
    buffer: str
    result: Any
    elapsed_ms: float


class SuggestionCache:
    """The suggestion cache, the computations in flight and what stops them, and idle-time prefetch.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``settings``,
    ``docs``, ``text_of``, ``host``, ``cancels``, ``sequences``, ``suggestion_log``, ``spawn`` and ``protocol``.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        # uri -> ("line", n) or ("focus", (instruction, window)) -> result, for the latest version only
        self.cache: dict[str, dict[tuple[str, Any], Computed]] = {}
        self.inflight: dict[tuple[str, int, tuple], asyncio.Task] = {}
        # What a `$/cancelRequest` for a message id stops: an Event to set, or a shared computation to leave.
        self.request_cancels: dict[Any, Callable[[], None]] = {}
        self.shown: dict[str, Computed] = {}  # uri -> what code actions / inline completion last showed
        self.symbols: Any = None  # the workspace's DirectoryIndex, made on first use (workspace_symbols)
        self._idle_tasks: dict[str, asyncio.Task] = {}
        # uri -> the pyflakes state its suggestions were validated with, so the next version's buffer and candidates
        # are checked incrementally (used on the model thread only: one worker, so never by two threads at once).
        self._linters: OrderedDict[str, IncrementalLint] = OrderedDict()
        # uri -> its syntax outline, parsed again only around each edit (prompt focus and prompt; thread-safe).
        self._outlines: OrderedDict[str, OutlineTracker] = OrderedDict()
        # The Events that stop the second passes in flight (``_widen``), by computation key.
        self._widen_cancels: dict[tuple[str, int, tuple], threading.Event] = {}

    def linter_for(self, uri: str) -> IncrementalLint:
        """The document's ``IncrementalLint`` for suggestion validation (the last ``KEPT_DOCUMENTS`` are kept)."""
        return _kept(self._linters, uri, IncrementalLint)

    def outline_for(self, uri: str) -> OutlineTracker:
        """The document's ``OutlineTracker`` (the last ``KEPT_DOCUMENTS`` are kept)."""
        return _kept(self._outlines, uri, OutlineTracker)

    # ---------------------------------------------------------------------------------- idle: history, prefetch

    def schedule_idle(self, uri: str, delay: float | None = None) -> None:
        """After ``idleMs`` without changes: close the Diff History entry and prefetch the next suggestion."""
        if (task := self._idle_tasks.pop(uri, None)) is not None:
            task.cancel()
        delay = self.server.settings.idle_ms / 1000 if delay is None else delay
        self._idle_tasks[uri] = self.server.spawn(self._on_idle(uri, delay))

    async def _on_idle(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        server = self.server
        if uri not in server.docs:
            return
        state, text = server.text_of(uri)
        # difflib over a large file takes tens of milliseconds: keep it off the event loop.
        await asyncio.to_thread(state.record_history, text)
        pending = server.sequences.current(uri, state, text)
        self.detect_acceptance(uri, text)
        if pending is not None:
            return  # the pending steps are this document's suggestions: the model is not asked
        if server.settings.prefetch and server.host.state == READY:
            try:
                await self.suggestions_for(uri, state.change_line)
            except JsonRpcException:
                return
            server.host.prefetches += 1

    # ------------------------------------------------------------------------------------------- suggestions

    async def suggestions_for(self, uri: str, line: int) -> Computed:
        """The suggestions for ``uri`` at ``line`` for its current version: cached, in flight, or computed now.

        The prompt depends on the line only through its focus (``prompts.prompt_focus``): the instruction derived
        there (the enclosing function's header and docstring) and, in a long file, the window of lines shown; so
        a prefetch made for one line answers a request anywhere in the same function.
        """
        server = self.server
        state, text = server.text_of(uri)
        version = state.version
        cached = self.cache.setdefault(uri, {})
        if (hit := cached.get(("line", line))) is not None and hit.version == version:
            server.host.cache_hits += 1
            return hit
        outline, (instruction, window) = await asyncio.to_thread(
            _focus, self.outline_for(uri), text, line, server.settings.prompt_window
        )
        focus = (instruction, window.start, window.stop)
        if (hit := cached.get(("focus", focus))) is not None and hit.version == version:
            server.host.cache_hits += 1
            cached[("line", line)] = hit
            return hit
        key = (uri, version, focus)
        task = self.inflight.get(key)
        if task is None:
            self.stop_widening()  # the model is needed now: a second pass still sampling gives way
            cancel = server.cancels.new(uri)
            task = server.spawn(self._compute(key, line, text, list(state.history), cancel, outline))
            task.cancel_event = cancel  # type: ignore[attr-defined]
            task.waiting = set()  # type: ignore[attr-defined]
            self.inflight[key] = task
            task.add_done_callback(lambda _t, key=key: self.inflight.pop(key, None))
        # Several requests (and the prefetch) can wait on one computation; it stops only when the last one leaves.
        waiter = object()
        task.waiting.add(waiter)  # type: ignore[attr-defined]
        if (msg_id := server.protocol.msg_id) is not None:
            self.request_cancels[msg_id] = lambda: self._abandon(key, task, waiter)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._abandon(key, task, waiter)
            raise
        finally:
            task.waiting.discard(waiter)  # type: ignore[attr-defined]
            if msg_id is not None:
                self.request_cancels.pop(msg_id, None)

    def _abandon(self, key: tuple[str, int, tuple], task: asyncio.Task, waiter: object) -> None:
        """A waiter of ``task`` was cancelled: stop the computation unless another request or prefetch waits on it."""
        task.waiting.discard(waiter)  # type: ignore[attr-defined]
        if task.waiting:  # type: ignore[attr-defined]
            return
        task.cancel_event.set()  # type: ignore[attr-defined]
        if self.inflight.get(key) is task:
            del self.inflight[key]

    async def _compute(
        self,
        key: tuple[str, int, tuple],
        line: int,
        text: str,
        history: list[str],
        cancel: threading.Event,
        outline: Outline | None,
    ) -> Computed:
        """The first pass of a request (``model_runtime.staged``): one greedy candidate, answered at once, the
        sampled others following in ``_widen``; with ``greedyFirst`` off, all ``k`` candidates in one batch."""
        from model_runtime.staged import passes

        server = self.server
        uri, version, focus = key
        settings = server.settings
        call = dict(
            line=line,
            instruction=focus[0],
            history=history,
            top_p=settings.top_p,
            max_new_tokens=settings.max_new_tokens,
            linter=self.linter_for(uri),
            window=settings.prompt_window,
            tree=outline,
            strategy=settings.strategy,  # "default": the model's own
            cache_key=uri,  # the document's prompt cache: the next request prefills only what changed
            **self.workspace_symbols(uri),
        )
        first, *rest = passes(settings.k, settings.temperature, settings.greedy_first)
        later = rest[0] if rest else None
        started = time.perf_counter()
        try:
            result = await self._suggest(text, call, first, cancel)
        finally:
            server.cancels.done(uri, cancel)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        computed = Computed(version=version, line=line, buffer=text, result=result, elapsed_ms=elapsed)
        server.host.latency_ms["suggest"] = elapsed
        if self._current(uri, version, settings):
            cached = self.cache.setdefault(uri, {})
            cached[("line", line)] = cached[("focus", focus)] = computed
            if later is not None:
                # Registered now, before a next request can come and need to stop it.
                stop = self._widen_cancels[key] = server.cancels.new(uri)
                server.spawn(self._widen(key, computed, call, later, settings, stop))
        return computed

    async def _widen(
        self,
        key: tuple[str, int, tuple],
        computed: Computed,
        call: dict,
        later: dict,
        settings: Any,
        cancel: threading.Event,
    ) -> None:
        """The second pass: the sampled candidates join ``computed``'s suggestions in the cache, unless the document
        changed or another request needed the model first (``suggestions_for`` stops this pass then)."""
        from model_runtime.staged import merged

        server = self.server
        uri, version, _focus_key = key
        started = time.perf_counter()
        try:
            result = merged(computed.result, await self._suggest(computed.buffer, call, later, cancel))
        except (JsonRpcException, RuntimeError):
            return  # cancelled, the strategy failed, or the model is reloading: the first pass's result stays
        finally:
            server.cancels.done(uri, cancel)
            self._widen_cancels.pop(key, None)
        server.host.latency_ms["widen"] = round((time.perf_counter() - started) * 1000, 1)
        if not self._current(uri, version, settings):
            return
        server.host.widened += 1
        widened = dataclasses.replace(computed, result=result)
        cached = self.cache.get(uri, {})
        for entry, value in list(cached.items()):
            if value is computed:
                cached[entry] = widened

    async def _suggest(self, text: str, call: dict, options: dict, cancel: threading.Event) -> Any:
        """``suggestions.suggest`` on the model thread, its failures as the LSP errors the handlers report."""
        from model_runtime.generation import Cancelled
        from model_runtime.suggestions import suggest

        settings = self.server.settings
        try:
            return await self.server.host.run(suggest, text, cancel=cancel, **call, **options)
        except Cancelled as exc:
            raise JsonRpcContentModified(
                "EditSeq: cancelled (the document changed or the request was cancelled)"
            ) from exc
        except ValueError as exc:  # a strategy this model cannot run (no FIM tokens, no chat template)
            raise RequestFailed(f"EditSeq: {exc} (setting editseq.strategy: {settings.strategy})") from exc

    def _current(self, uri: str, version: int, settings: Any) -> bool:
        """Whether ``uri`` is still at ``version`` and the settings are still ``settings`` (a result may be kept)."""
        state = self.server.docs.get(uri)
        return state is not None and state.version == version and self.server.settings is settings

    def stop_widening(self) -> None:
        """Stop every second pass in flight: a request waits for the model."""
        for event in self._widen_cancels.values():
            event.set()

    def workspace_symbols(self, uri: str) -> dict:
        """The import quick fix's view of the workspace: its symbol index (read lazily, kept fresh by
        modification time) and the document's module; nothing without a workspace folder."""
        from pygls.uris import to_fs_path

        from model_runtime.workspace_symbols import DirectoryIndex

        root = getattr(self.server.workspace, "root_path", None)
        if not root:
            return {}
        if self.symbols is None or str(self.symbols.root) != root:
            self.symbols = DirectoryIndex(root)
        path = to_fs_path(uri)
        return {"symbols": self.symbols, "module": self.symbols.module_of(path) if path else None}

    # ------------------------------------------------------------------------------------------ invalidation

    def clear_cache(self) -> None:
        """Forget every suggestion and stop the work computing them (the settings or the model changed)."""
        self.cache.clear()
        self.cancel_work()

    def forget(self, uri: str, *, closed: bool = False) -> None:
        """``uri`` changed (or closed): stop its work and drop its suggestions (and, closed, all it kept)."""
        self.cancel_work(uri)
        self.cache.pop(uri, None)
        if closed:
            self.shown.pop(uri, None)
            self._linters.pop(uri, None)
            self._outlines.pop(uri, None)
            if (task := self._idle_tasks.pop(uri, None)) is not None:
                task.cancel()

    def cancel_work(self, uri: str | None = None) -> int:
        """Stop the generations for ``uri`` (all when None); new requests start afresh instead of joining them."""
        for key in [key for key in self.inflight if uri is None or key[0] == uri]:
            del self.inflight[key]
        return self.server.cancels.cancel(uri)

    def cancel_request(self, msg_id: Any) -> None:
        """``$/cancelRequest``: stop the generation the request waits on (pygls cancels the handler itself)."""
        if (stop := self.request_cancels.pop(msg_id, None)) is not None:
            stop()

    # ------------------------------------------------------------------------------------------ the log

    def record(self, event: str, uri: str, computed: Computed, **fields: Any) -> None:
        server = self.server
        server.spawn(
            asyncio.to_thread(
                server.suggestion_log.record,
                event,
                uri=uri,
                version=computed.version,
                buffer=computed.buffer,
                line=computed.line,
                **fields,
            )
        )

    def detect_acceptance(self, uri: str, text: str) -> None:
        """Log "accepted" when the buffer became the program of a suggestion we showed (the client applied it).

        Clients apply code actions and inline completions themselves; the only sign the server gets is the
        resulting didChange, so the buffer is compared with the shown suggestions' programs once typing pauses.
        """
        computed = self.shown.get(uri)
        if computed is None or text == computed.buffer:
            return
        current = normalise(text)
        for suggestion in computed.result.suggestions:
            if normalise(suggestion.program) == current:
                self.record("accepted", uri, computed, suggestion=suggestion.edit_text)
                break
            if suggestion.final_program and normalise(suggestion.final_program) == current:
                # A plan taken whole; its first step alone became pending steps (SequenceCommands.current).
                steps = list(suggestion.steps)
                self.record("accepted", uri, computed, suggestion=suggestion.edit_text, steps=steps)
                break
        del self.shown[uri]


def _focus(
    tracker: OutlineTracker, text: str, line: int, window: int
) -> tuple[Outline | None, tuple[str, range]]:
    """The buffer's outline (from its document's tracker: a one-line edit parses a few lines, not the buffer) and
    its prompt focus at ``line``; the prompt is built from the same outline on the model thread."""
    outline = tracker.outline(text)
    return outline, prompt_focus(text, line, window, outline)


def _kept(store: OrderedDict[str, T], uri: str, make: Callable[[], T]) -> T:
    """``store``'s entry for ``uri`` (made when missing), now the most recent; the oldest beyond KEPT_DOCUMENTS go."""
    value = store.pop(uri, None) or make()
    store[uri] = value
    while len(store) > KEPT_DOCUMENTS:
        store.popitem(last=False)
    return value
