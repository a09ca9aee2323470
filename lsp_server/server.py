"""The EditSeq language server: ``EditSeqServer`` (documents, settings and the parts it is made of) and the pygls
handlers, each a thin call into one part.

The parts, each in its own module: ``ModelLifecycle`` (model_lifecycle: lazy background load, progress, reload),
``SuggestionCache`` (suggestion_cache: computing, caching, prefetching and cancelling suggestions),
``SuggestionViews`` (suggestion_views: code actions, resolve, inline completion), ``SequenceCommands``
(sequence_commands: a document's pending steps; generate, choose, accept the next step or all, reject) and
``LintScheduler`` (lint_scheduler: diagnostics). Each takes the server and reaches the others through it.

Threads: the asyncio event loop handles every message; pyflakes runs in a worker process; the model loads and
generates on its own single worker thread (``ModelHost``). Nothing that can take long runs on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from lsp_server import SERVER_NAME, __version__, commands
from lsp_server.documents import DocumentState, changed_line
from lsp_server.lint_scheduler import LintScheduler
from lsp_server.model_host import IDLE, LOADING, CancelGroup, ModelHost
from lsp_server.model_lifecycle import CLIENT_REPLY_TIMEOUT_S, ModelLifecycle
from lsp_server.protocol import EditSeqProtocol
from lsp_server.sequence_commands import SequenceCommands
from lsp_server.settings import SECTION, as_client_dict, from_environment, merge_settings, model_source
from lsp_server.suggestion_cache import SuggestionCache
from lsp_server.suggestion_log import SuggestionLog
from lsp_server.suggestion_views import CODE_ACTION_KIND, SuggestionViews

logger = logging.getLogger(__name__)


class EditSeqServer(LanguageServer):
    """Documents and settings, the model host, and the parts the handlers below call into."""

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
        self._background: set[asyncio.Task] = set()
        self.model = ModelLifecycle(self)
        self.suggestions = SuggestionCache(self)
        self.views = SuggestionViews(self)
        self.sequences = SequenceCommands(self)
        self.lints = LintScheduler(self)

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
                self.model.start_loading()
        if before != self.settings:
            self.suggestions.clear_cache()
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

    # --------------------------------------------------------------------------------------------- documents

    def opened(self, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        self.docs[doc.uri] = DocumentState(
            uri=doc.uri, version=doc.version, snapshot=doc.text, history_length=self.settings.history_length
        )
        self.lints.schedule(doc.uri)
        self.model.ensure_loading()
        self.suggestions.schedule_idle(doc.uri)

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
        self.suggestions.forget(uri)
        self.lints.schedule(uri)
        self.suggestions.schedule_idle(uri)

    def closed(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        self.suggestions.forget(uri, closed=True)
        self.docs.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def text_of(self, uri: str) -> tuple[DocumentState, str]:
        state = self.docs.get(uri)
        if state is None:
            raise JsonRpcInvalidParams(f"document {uri} is not open")
        return state, self.workspace.get_text_document(uri).source

    # ------------------------------------------------------------------------------------------------- utils

    def pinned(self, version: int) -> int | None:
        """``version`` when the client takes versioned ``documentChanges``, else None (plain ``changes``)."""
        workspace = getattr(self.client_capabilities, "workspace", None)
        workspace_edit = getattr(workspace, "workspace_edit", None)
        return version if getattr(workspace_edit, "document_changes", False) else None

    def cancel_request(self, msg_id: Any) -> None:
        """``$/cancelRequest`` (EditSeqProtocol calls this): stop the model work the request waits on."""
        self.suggestions.cancel_request(msg_id)

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
        ls.model.settings_known.set()
    ls.model.notify_status()


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
    return await ls.views.code_actions(params)


@server.feature(types.CODE_ACTION_RESOLVE)
def code_action_resolve(ls: EditSeqServer, params: types.CodeAction) -> types.CodeAction:
    return ls.views.resolve_code_action(params)


# pygls advertises inline completion only when given options, so pass them explicitly.
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(
    ls: EditSeqServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    return await ls.views.inline_completion(params)


def _args(command: str, arguments: tuple[Any, ...], need: tuple[str, ...] = ()) -> commands.CommandArgs:
    try:
        return commands.parse_args(command, arguments, need=need)
    except commands.CommandArgumentError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc


@server.command(commands.ACCEPT_NEXT_STEP)
async def accept_next_step(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return await ls.sequences.accept_next_step(_args(commands.ACCEPT_NEXT_STEP, arguments, ("uri",)))


@server.command(commands.ACCEPT_ALL)
async def accept_all(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return await ls.sequences.accept_all(_args(commands.ACCEPT_ALL, arguments, ("uri",)))


@server.command(commands.GENERATE)
async def generate(ls: EditSeqServer, *arguments: Any) -> list[dict[str, Any]]:
    return await ls.sequences.generate(_args(commands.GENERATE, arguments, ("uri", "instruction")))


@server.command(commands.CHOOSE)
def choose(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return ls.sequences.choose(_args(commands.CHOOSE, arguments, ("uri", "index")))


@server.command(commands.REJECT)
def reject(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return ls.sequences.reject(_args(commands.REJECT, arguments, ("uri",)))


@server.command(commands.CANCEL)
def cancel(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    args = _args(commands.CANCEL, arguments)
    return {"cancelled": ls.suggestions.cancel_work(args.uri)}


@server.command(commands.STATUS)
def status(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    return ls.host.status()


@server.command(commands.RELOAD_MODEL)
def reload_model(ls: EditSeqServer, *arguments: Any) -> dict[str, Any]:
    ls.model.start_loading()
    return ls.host.status() | {"state": LOADING}
