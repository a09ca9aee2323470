"""The EditSeq language server: pygls handlers (thin) over the document, model and suggestion state they drive.

Threads: the asyncio event loop handles every message; pyflakes runs in the loop's default thread pool; the model
loads and generates on its own single worker thread (``ModelHost``). Nothing that can take long runs on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from lsp_server import SERVER_NAME, __version__, commands
from lsp_server.diagnostics import lint_diagnostics, quiet_worker, worker_lint
from lsp_server.documents import DocumentState, PendingSequence, changed_line
from lsp_server.inline import inline_item
from lsp_server.model_host import ERROR, IDLE, LOADING, READY, CancelGroup, ModelHost
from lsp_server.protocol import EditSeqProtocol
from lsp_server.settings import SECTION, as_client_dict, from_environment, merge_settings, model_source
from lsp_server.suggestion_log import SuggestionLog
from lsp_server.text_edits import preview_title, workspace_edit
from model_runtime.edits import normalise

logger = logging.getLogger(__name__)

CODE_ACTION_KIND = "refactor.editseq"
STATUS_NOTIFICATION = "editseq/status"
# Storms of changes are linted at most this often; the first change after a quiet spell is linted at once.
LINT_DEBOUNCE_S = 0.05
# Beyond these sizes a buffer is not linted / not sent to the model (a minified bundle, a data file).
MAX_LINT_CHARS = 5_000_000
MAX_SUGGEST_CHARS = 1_000_000
CLIENT_REPLY_TIMEOUT_S = 5.0


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was fine but cannot be served now (the message says why)."""

    CODE = -32803


@dataclass
class Computed:
    """A SuggestResult together with the buffer state it was computed for."""

    version: int
    line: int
    buffer: str
    result: Any
    elapsed_ms: float


class EditSeqServer(LanguageServer):
    """Document state, settings, the model host and the suggestion cache; handlers below call into it."""

    def __init__(self) -> None:
        super().__init__(
            SERVER_NAME,
            __version__,
            protocol_cls=EditSeqProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.settings, problems = from_environment(os.environ)
        for problem in problems:
            logger.warning("environment: %s", problem)
        self.docs: dict[str, DocumentState] = {}
        self.host = ModelHost()
        self.cancels = CancelGroup()
        self.suggestion_log = SuggestionLog(enabled=self.settings.logging)
        # uri -> ("line", n) or ("instruction", text) -> result, for the latest version only
        self.cache: dict[str, dict[tuple[str, Any], Computed]] = {}
        self.inflight: dict[tuple[str, int, str], asyncio.Task] = {}
        # What a `$/cancelRequest` for a message id stops: an Event to set, or a shared computation to leave.
        self.request_cancels: dict[Any, Callable[[], None]] = {}
        self.shown: dict[str, Computed] = {}  # uri -> what code actions / inline completion last showed
        self._lint_running: set[str] = set()
        self._lint_dirty: set[str] = set()
        self._idle_tasks: dict[str, asyncio.Task] = {}
        self._load_task: asyncio.Task | None = None
        self._lint_pool: ProcessPoolExecutor | None = None
        self._error_shown = False
        self._background: set[asyncio.Task] = set()
        # Set once the client's settings are known (initialized + workspace/configuration), so that the first
        # didOpen does not start loading the default model while the configured one is a round trip away.
        self.settings_known = asyncio.Event()

    # ----------------------------------------------------------------------------------------------- settings

    def apply_settings(self, raw: Any) -> None:
        """Merge client settings; reload the model when what it loads from changed; report bad values once."""
        before = self.settings
        self.settings, problems = merge_settings(before, raw)
        for problem in problems:
            self.show(problem, types.MessageType.Warning)
        self.suggestion_log.enabled = self.settings.logging
        for state in self.docs.values():
            state.set_history_length(self.settings.history_length)
        if model_source(before) != model_source(self.settings):
            if self.host.state != IDLE:
                self.start_loading()
        if before != self.settings:
            self.clear_cache()
            logger.info("settings: %s", as_client_dict(self.settings))

    async def pull_settings(self) -> None:
        """Ask the client for the ``editseq`` section when it supports ``workspace/configuration``."""
        workspace = getattr(self.client_capabilities, "workspace", None)
        if not getattr(workspace, "configuration", False):
            return
        params = types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(params), CLIENT_REPLY_TIMEOUT_S
            )
        except Exception as exc:  # a client that fails to answer keeps the current settings
            logger.warning("workspace/configuration failed: %s", exc)
            return
        if result:
            self.apply_settings(result[0])

    # ------------------------------------------------------------------------------------------------- model

    def start_loading(self) -> None:
        """Load (or reload) the model in the background, with work-done progress."""
        self.clear_cache()
        self._error_shown = False
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()  # a stale load still finishes on the model thread, but ModelHost ignores it
        self.host.state = LOADING  # from now on: requests get "model loading" answers
        self._load_task = self.spawn(self._load())

    def ensure_loading(self) -> None:
        if self.host.state == IDLE:
            self.start_loading()

    async def _load(self) -> None:
        try:
            await asyncio.wait_for(self.settings_known.wait(), CLIENT_REPLY_TIMEOUT_S)
        except asyncio.TimeoutError:
            logger.warning("no settings from the client; loading with the current ones")
        token = f"editseq-load-{time.monotonic_ns()}"
        progress = await self._begin_progress(
            token, "EditSeq: loading model", self.settings.model_path or "default"
        )
        loading = self.host.load(self.settings)
        self.notify_status()
        ready = await loading
        if progress:
            message = "ready" if ready else "failed"
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        if not ready and self.host.state == ERROR and not self._error_shown:
            self._error_shown = True
            self.show(f"EditSeq could not load its model: {self.host.error}", types.MessageType.Error)
        self.notify_status()
        if ready and self.settings.prefetch:
            for uri in list(self.docs):
                self.schedule_idle(uri, delay=0.0)

    async def _begin_progress(self, token: str, title: str, message: str) -> bool:
        window = getattr(self.client_capabilities, "window", None)
        if not getattr(window, "work_done_progress", False):
            return False
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), CLIENT_REPLY_TIMEOUT_S)
        except Exception as exc:
            logger.warning("window/workDoneProgress/create failed: %s", exc)
            return False
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message))
        return True

    def require_model(self) -> None:
        """Raise a clear RequestFailed unless the model is ready (starting the load if nobody has)."""
        self.ensure_loading()
        if self.host.state == LOADING:
            raise RequestFailed("EditSeq: the model is loading; try again in a moment")
        if self.host.state == ERROR:
            raise RequestFailed(
                f"EditSeq: no model ({self.host.error}); fix the settings and run reloadModel"
            )

    def notify_status(self) -> None:
        self.protocol.notify(STATUS_NOTIFICATION, self.host.status())

    # --------------------------------------------------------------------------------------------- documents

    def opened(self, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        self.docs[doc.uri] = DocumentState(
            uri=doc.uri, version=doc.version, snapshot=doc.text, history_length=self.settings.history_length
        )
        self.schedule_lint(doc.uri)
        self.ensure_loading()
        self.schedule_idle(doc.uri)

    def changed(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        state = self.docs.get(uri)
        if state is None:
            return
        state.version = params.text_document.version
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                state.change_line = changed_line(change.range.start.line, change.text)
        # Work for an older version is stale: stop it now rather than finish and throw it away.
        self.cancel_work(uri)
        self.cache.pop(uri, None)
        self.schedule_lint(uri)
        self.schedule_idle(uri)

    def closed(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        self.cancel_work(uri)
        self.cache.pop(uri, None)
        self.shown.pop(uri, None)
        self.docs.pop(uri, None)
        if (task := self._idle_tasks.pop(uri, None)) is not None:
            task.cancel()
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def text_of(self, uri: str) -> tuple[DocumentState, str]:
        state = self.docs.get(uri)
        if state is None:
            raise JsonRpcInvalidParams(f"document {uri} is not open")
        return state, self.workspace.get_text_document(uri).source

    # ------------------------------------------------------------------------------------------- diagnostics

    def schedule_lint(self, uri: str) -> None:
        """Lint now if no lint of ``uri`` runs; otherwise once more after it (storms coalesce)."""
        if uri in self._lint_running:
            self._lint_dirty.add(uri)
            return
        self._lint_running.add(uri)
        self.spawn(self._lint_loop(uri))

    async def _lint_loop(self, uri: str) -> None:
        try:
            while uri in self.docs:
                self._lint_dirty.discard(uri)
                state, text = self.text_of(uri)
                version = state.version
                if len(text) > MAX_LINT_CHARS:
                    findings, diagnostics = [], []
                else:
                    findings, diagnostics = await self.lint(text, uri)
                if uri in self.docs:
                    state.lint, state.lint_version = findings, version
                    self.text_document_publish_diagnostics(
                        types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
                    )
                if uri not in self._lint_dirty:
                    return
                await asyncio.sleep(LINT_DEBOUNCE_S)
        finally:
            self._lint_running.discard(uri)

    async def lint(self, text: str, uri: str | None) -> tuple[list, list[types.Diagnostic]]:
        """Pyflakes in a worker process: in a thread it shares the GIL with the event loop and the decoding model
        thread, which measured twice as slow (benchmarks/lsp_latency.py); falls back to a thread if the process
        cannot run. The worker keeps each document's last check (by ``uri``) and re-checks only what changed."""
        loop = asyncio.get_running_loop()
        if self._lint_pool is None:
            self._lint_pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=quiet_worker
            )
        try:
            return await loop.run_in_executor(self._lint_pool, worker_lint, text, uri)
        except (BrokenProcessPool, OSError) as exc:
            logger.warning("lint worker process failed (%s); linting in a thread", exc)
            self._lint_pool = None
            return await asyncio.to_thread(lint_diagnostics, text, uri)

    # ---------------------------------------------------------------------------------- idle: history, prefetch

    def schedule_idle(self, uri: str, delay: float | None = None) -> None:
        """After ``idleMs`` without changes: close the Diff History entry and prefetch the next suggestion."""
        if (task := self._idle_tasks.pop(uri, None)) is not None:
            task.cancel()
        delay = self.settings.idle_ms / 1000 if delay is None else delay
        self._idle_tasks[uri] = self.spawn(self._on_idle(uri, delay))

    async def _on_idle(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if uri not in self.docs:
            return
        state, text = self.text_of(uri)
        # difflib over a large file takes tens of milliseconds: keep it off the event loop.
        await asyncio.to_thread(state.record_history, text)
        self.detect_acceptance(uri, text)
        if self.settings.prefetch and self.host.state == READY:
            try:
                await self.suggestions_for(uri, state.change_line)
            except JsonRpcException:
                return
            self.host.prefetches += 1

    # ------------------------------------------------------------------------------------------- suggestions

    async def suggestions_for(self, uri: str, line: int) -> Computed:
        """The suggestions for ``uri`` at ``line`` for its current version: cached, in flight, or computed now.

        The prompt depends on the line only through the instruction derived there (the enclosing function's
        header and docstring), so a prefetch made for one line answers a request anywhere in the same function.
        """
        from model_runtime.prompts import derive_instruction

        state, text = self.text_of(uri)
        version = state.version
        cached = self.cache.setdefault(uri, {})
        if (hit := cached.get(("line", line))) is not None and hit.version == version:
            self.host.cache_hits += 1
            return hit
        instruction = await asyncio.to_thread(derive_instruction, text, line)
        if (hit := cached.get(("instruction", instruction))) is not None and hit.version == version:
            self.host.cache_hits += 1
            cached[("line", line)] = hit
            return hit
        key = (uri, version, instruction)
        task = self.inflight.get(key)
        if task is None:
            cancel = self.cancels.new(uri)
            task = self.spawn(self._compute(key, line, text, list(state.history), cancel))
            task.cancel_event = cancel  # type: ignore[attr-defined]
            task.waiting = set()  # type: ignore[attr-defined]
            self.inflight[key] = task
            task.add_done_callback(lambda _t, key=key: self.inflight.pop(key, None))
        # Several requests (and the prefetch) can wait on one computation; it stops only when the last one leaves.
        waiter = object()
        task.waiting.add(waiter)  # type: ignore[attr-defined]
        if (msg_id := self.protocol.msg_id) is not None:
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

    def _abandon(self, key: tuple[str, int, str], task: asyncio.Task, waiter: object) -> None:
        """A waiter of ``task`` was cancelled: stop the computation unless another request or prefetch waits on it."""
        task.waiting.discard(waiter)  # type: ignore[attr-defined]
        if task.waiting:  # type: ignore[attr-defined]
            return
        task.cancel_event.set()  # type: ignore[attr-defined]
        if self.inflight.get(key) is task:
            del self.inflight[key]

    async def _compute(
        self, key: tuple[str, int, str], line: int, text: str, history: list[str], cancel: threading.Event
    ) -> Computed:
        from model_runtime.generation import Cancelled
        from model_runtime.suggestions import suggest

        uri, version, instruction = key
        settings = self.settings
        started = time.perf_counter()
        try:
            result = await self.host.run(
                suggest,
                text,
                line=line,
                instruction=instruction,
                history=history,
                k=settings.k,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_new_tokens=settings.max_new_tokens,
                cancel=cancel,
            )
        except Cancelled as exc:
            raise JsonRpcContentModified(
                "EditSeq: cancelled (the document changed or the request was cancelled)"
            ) from exc
        finally:
            self.cancels.done(uri, cancel)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        computed = Computed(version=version, line=line, buffer=text, result=result, elapsed_ms=elapsed)
        self.host.latency_ms["suggest"] = elapsed
        state = self.docs.get(uri)
        if state is not None and state.version == version and self.settings is settings:
            cached = self.cache.setdefault(uri, {})
            cached[("line", line)] = cached[("instruction", instruction)] = computed
        return computed

    def clear_cache(self) -> None:
        """Forget every suggestion and stop the work computing them (the settings or the model changed)."""
        self.cache.clear()
        self.cancel_work()

    def cancel_work(self, uri: str | None = None) -> int:
        """Stop the generations for ``uri`` (all when None); new requests start afresh instead of joining them."""
        for key in [key for key in self.inflight if uri is None or key[0] == uri]:
            del self.inflight[key]
        return self.cancels.cancel(uri)

    def cancel_request(self, msg_id: Any) -> None:
        """``$/cancelRequest``: stop the generation the request waits on (pygls cancels the handler itself)."""
        if (stop := self.request_cancels.pop(msg_id, None)) is not None:
            stop()

    def record(self, event: str, uri: str, computed: Computed, **fields: Any) -> None:
        self.spawn(
            asyncio.to_thread(
                self.suggestion_log.record,
                event,
                uri=uri,
                version=computed.version,
                buffer=computed.buffer,
                line=computed.line,
                **fields,
            )
        )

    # ------------------------------------------------------------------------------------------- code actions

    def pinned(self, version: int) -> int | None:
        """``version`` when the client takes versioned ``documentChanges``, else None (plain ``changes``)."""
        workspace = getattr(self.client_capabilities, "workspace", None)
        workspace_edit = getattr(workspace, "workspace_edit", None)
        return version if getattr(workspace_edit, "document_changes", False) else None

    def wants_edit_eagerly(self) -> bool:
        """Whether the client cannot resolve the edit later (no ``resolveSupport`` for ``edit``)."""
        text_document = getattr(self.client_capabilities, "text_document", None)
        code_action = getattr(text_document, "code_action", None)
        support = getattr(code_action, "resolve_support", None)
        return not (support and "edit" in (support.properties or []))

    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        only = params.context.only
        if only and not any(CODE_ACTION_KIND == k or CODE_ACTION_KIND.startswith(f"{k}.") for k in only):
            return []
        uri = params.text_document.uri
        state, text = self.text_of(uri)
        actions = self.pending_actions(uri, state, text)
        if len(text) > MAX_SUGGEST_CHARS:
            return [*actions, disabled_action("EditSeq: file too large for suggestions", "file too large")]
        self.ensure_loading()
        if self.host.state == LOADING:
            return [
                *actions,
                disabled_action("EditSeq: model loading", "the model is loading; try again shortly"),
            ]
        if self.host.state != READY:
            return actions
        started = time.perf_counter()
        computed = await self.suggestions_for(uri, params.range.start.line)
        result = computed.result
        if result.buffer_error:
            return [*actions, disabled_action(f"EditSeq: {result.buffer_error}", result.buffer_error)]
        eager = self.wants_edit_eagerly()
        for index, suggestion in enumerate(result.suggestions):
            action = types.CodeAction(
                title=preview_title(suggestion.placements),
                kind=CODE_ACTION_KIND,
                data={"uri": uri, "version": computed.version, "line": computed.line, "index": index},
            )
            if eager:
                action.edit = workspace_edit(
                    uri, self.pinned(computed.version), computed.buffer, suggestion.placements
                )
            actions.append(action)
        if result.suggestions:
            self.shown[uri] = computed
            self.record("shown", uri, computed, suggestions=[s.edit_text for s in result.suggestions])
        self.host.latency_ms["code_action"] = round((time.perf_counter() - started) * 1000, 1)
        return actions

    def pending_actions(self, uri: str, state: DocumentState, text: str) -> list[types.CodeAction]:
        pending = state.pending
        if pending is None or pending.done or not pending.matches(text):
            return []
        step = pending.steps[pending.index]
        title = (
            f"EditSeq: accept step {pending.index + 1}/{len(pending.steps)}: {preview_title(step.placements)}"
        )
        command = types.Command(title=title, command=commands.ACCEPT_NEXT_STEP, arguments=[{"uri": uri}])
        return [types.CodeAction(title=title, kind=CODE_ACTION_KIND, command=command)]

    def resolve_code_action(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        uri, version, line, index = (data.get(k) for k in ("uri", "version", "line", "index"))
        if not isinstance(uri, str) or not isinstance(line, int) or not isinstance(index, int):
            return action  # not one of ours (or already carries its edit)
        state = self.docs.get(uri)
        computed = self.cache.get(uri, {}).get(("line", line))
        if state is None or computed is None or computed.version != version or state.version != version:
            raise JsonRpcContentModified("EditSeq: the document changed since these suggestions were made")
        suggestions = computed.result.suggestions
        if not 0 <= index < len(suggestions):
            raise JsonRpcInvalidParams(f"no suggestion {index} (there are {len(suggestions)})")
        action.edit = workspace_edit(
            uri, self.pinned(version), computed.buffer, suggestions[index].placements
        )
        return action

    # ------------------------------------------------------------------------------------- inline completion

    async def inline_completion(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        uri = params.text_document.uri
        state, text = self.text_of(uri)
        self.ensure_loading()
        if self.host.state != READY or len(text) > MAX_SUGGEST_CHARS:
            return types.InlineCompletionList(items=[])
        computed = await self.suggestions_for(uri, params.position.line)
        suggestions = computed.result.suggestions
        if not suggestions:
            return types.InlineCompletionList(items=[])
        item = inline_item(computed.buffer, params.position, list(suggestions[0].placements))
        if item is None:
            return types.InlineCompletionList(items=[])
        self.shown[uri] = computed
        self.record("shown", uri, computed, suggestions=[suggestions[0].edit_text], inline=True)
        return types.InlineCompletionList(items=[item])

    # ---------------------------------------------------------------------------------------------- commands

    async def accept_next_step(self, args: commands.CommandArgs) -> dict[str, Any]:
        state, text = self.text_of(args.uri)
        pending = state.pending
        if pending is None or pending.done:
            return {"applied": False, "reason": "no pending sequence; run editseq.generate first"}
        if not pending.matches(text):
            return {
                "applied": False,
                "reason": "the buffer changed since the sequence was made; generate again",
            }
        index = pending.index
        step = pending.steps[index]
        placements = shifted(
            step.placements, leading_blank_lines(text) - leading_blank_lines(pending.expected_before)
        )
        edit = workspace_edit(args.uri, self.pinned(state.version), text, placements)
        label = f"EditSeq step {index + 1}/{len(pending.steps)}"
        reply = await self.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
        if not reply.applied:
            return {"applied": False, "reason": reply.failure_reason or "the client did not apply the edit"}
        pending.index += 1
        computed = Computed(state.version, step.placements[0].line if step.placements else 0, text, None, 0.0)
        self.record(
            "accepted", args.uri, computed, suggestion=step.edit_text, step=index, steps=len(pending.steps)
        )
        if pending.done:
            state.pending = None
        return {"applied": True, "step": index + 1, "steps": len(pending.steps), "done": pending.done}

    async def generate(self, args: commands.CommandArgs) -> list[dict[str, Any]]:
        state, text = self.text_of(args.uri)
        self.require_model()
        from model_runtime.generation import Cancelled
        from model_runtime.suggestions import generate_sequences

        cancel = self.cancels.new(args.uri)
        if (msg_id := self.protocol.msg_id) is not None:
            self.request_cancels[msg_id] = cancel.set
        settings = self.settings
        started = time.perf_counter()
        try:
            candidates = await self.host.run(
                generate_sequences,
                args.instruction,
                start=text,
                k=args.k or settings.k,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_new_tokens=settings.max_new_tokens * 4,
                cancel=cancel,
            )
        except Cancelled as exc:
            raise RequestFailed("EditSeq: generation cancelled") from exc
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            self.cancels.done(args.uri, cancel)
            if msg_id is not None:
                self.request_cancels.pop(msg_id, None)
        self.host.latency_ms["generate"] = round((time.perf_counter() - started) * 1000, 1)
        state.candidates = list(candidates)
        state.candidates_start = text
        best = next((i for i, c in enumerate(candidates) if c.valid and c.steps), None)
        state.pending = (
            PendingSequence(start=text, steps=list(candidates[best].steps)) if best is not None else None
        )
        return [
            {
                "index": i,
                "program": c.program,
                "steps": [s.edit_text for s in c.steps],
                "valid": c.valid,
                "pending": i == best,
            }
            for i, c in enumerate(candidates)
        ]

    def choose(self, args: commands.CommandArgs) -> dict[str, Any]:
        state, _ = self.text_of(args.uri)
        if not state.candidates:
            raise JsonRpcInvalidParams(
                "no generated candidates for this document; run editseq.generate first"
            )
        if args.index >= len(state.candidates):
            raise JsonRpcInvalidParams(f"no candidate {args.index} (there are {len(state.candidates)})")
        candidate = state.candidates[args.index]
        state.pending = PendingSequence(start=state.candidates_start, steps=list(candidate.steps))
        return {"index": args.index, "steps": len(candidate.steps), "valid": candidate.valid}

    def reject(self, args: commands.CommandArgs) -> dict[str, Any]:
        state, _ = self.text_of(args.uri)
        self.cancel_work(args.uri)
        rejected = 0
        if (computed := self.shown.pop(args.uri, None)) is not None:
            suggestions = [s.edit_text for s in computed.result.suggestions]
            self.record("rejected", args.uri, computed, suggestions=suggestions)
            rejected += len(suggestions)
        if state.pending is not None and not state.pending.done:
            pending = state.pending
            computed = Computed(state.version, 0, pending.expected_before, None, 0.0)
            self.record("rejected", args.uri, computed, suggestion=pending.steps[pending.index].edit_text)
            rejected += 1
        state.pending = None
        return {"rejected": rejected}

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
        del self.shown[uri]

    # ------------------------------------------------------------------------------------------------- utils

    def show(self, message: str, kind: types.MessageType) -> None:
        logger.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def spawn(self, coro: Any) -> asyncio.Task:
        """Run ``coro`` in the background, keeping a reference (asyncio holds only weak ones) and logging errors."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            if not isinstance(exc, JsonRpcException):
                logger.error("background task failed: %r", exc, exc_info=exc)


def disabled_action(title: str, reason: str) -> types.CodeAction:
    return types.CodeAction(
        title=title, kind=CODE_ACTION_KIND, disabled=types.CodeActionDisabled(reason=reason)
    )


def leading_blank_lines(text: str) -> int:
    lines = text.split("\n")
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


def shifted(placements: Any, offset: int) -> list[Any]:
    """Placements moved down by ``offset`` lines (the buffer has more blank lines on top than expected)."""
    if offset == 0:
        return list(placements)
    return [SimpleNamespace(line=max(p.line + offset, 0), lines=p.lines) for p in placements]


# --------------------------------------------------------------------------------------------------- handlers

server = EditSeqServer()


@server.feature(types.INITIALIZE)
def initialize(ls: EditSeqServer, params: types.InitializeParams) -> None:
    ls.apply_settings(params.initialization_options)


@server.feature(types.INITIALIZED)
async def initialized(ls: EditSeqServer, params: types.InitializedParams) -> None:
    try:
        await ls.pull_settings()
    finally:
        ls.settings_known.set()
    ls.notify_status()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: EditSeqServer, params: types.DidChangeConfigurationParams) -> None:
    settings = params.settings
    if isinstance(settings, dict) and isinstance(settings.get(SECTION), dict):
        ls.apply_settings(settings[SECTION])
    else:
        # The client only says "something changed" (the pull model): ask it.
        await ls.pull_settings()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: EditSeqServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.opened(params)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: EditSeqServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.changed(params)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: EditSeqServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.closed(params)


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[CODE_ACTION_KIND], resolve_provider=True),
)
async def code_action(ls: EditSeqServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    return await ls.code_actions(params)


@server.feature(types.CODE_ACTION_RESOLVE)
def code_action_resolve(ls: EditSeqServer, params: types.CodeAction) -> types.CodeAction:
    return ls.resolve_code_action(params)


# pygls advertises inline completion only when given options, so pass them explicitly.
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(
    ls: EditSeqServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    return await ls.inline_completion(params)


def _args(command: str, arguments: tuple[Any, ...], need: tuple[str, ...] = ()) -> commands.CommandArgs:
    try:
        return commands.parse_args(command, arguments, need=need)
    except commands.CommandArgumentError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc


@server.command(commands.ACCEPT_NEXT_STEP)
async def accept_next_step(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return await ls.accept_next_step(_args(commands.ACCEPT_NEXT_STEP, arguments, ("uri",)))


@server.command(commands.GENERATE)
async def generate(ls: EditSeqServer, *arguments: Any) -> list[dict[str, Any]]:
    return await ls.generate(_args(commands.GENERATE, arguments, ("uri", "instruction")))


@server.command(commands.CHOOSE)
def choose(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return ls.choose(_args(commands.CHOOSE, arguments, ("uri", "index")))


@server.command(commands.REJECT)
def reject(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return ls.reject(_args(commands.REJECT, arguments, ("uri",)))


@server.command(commands.CANCEL)
def cancel(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    args = _args(commands.CANCEL, arguments)
    return {"cancelled": ls.cancel_work(args.uri)}


@server.command(commands.STATUS)
def status(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return ls.host.status()


@server.command(commands.RELOAD_MODEL)
def reload_model(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    ls.start_loading()
    return ls.host.status() | {"state": LOADING}
