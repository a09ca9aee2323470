"""How suggestions reach the editor: code actions of kind ``refactor.editseq`` (the edit computed eagerly or on
``codeAction/resolve``), the pending sequence's next step as a code action, and the best suggestion as inline
completion (ghost text)."""

from __future__ import annotations

import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams

from lsp_server import commands
from lsp_server.documents import DocumentState
from lsp_server.inline import inline_item
from lsp_server.model_host import LOADING, READY
from lsp_server.text_edits import preview_title, workspace_edit

CODE_ACTION_KIND = "refactor.editseq"
# Beyond this size a buffer is not sent to the model (a minified bundle, a data file).
MAX_SUGGEST_CHARS = 1_000_000


class SuggestionViews:
    """Code actions, their resolve, and inline completion, over the server's suggestion cache.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``text_of``,
    ``docs``, ``host``, ``model``, ``suggestions``, ``pinned`` and ``client_capabilities``.
    """

    def __init__(self, server: Any) -> None:
        self.server = server

    def wants_edit_eagerly(self) -> bool:
        """Whether the client cannot resolve the edit later (no ``resolveSupport`` for ``edit``)."""
        text_document = getattr(self.server.client_capabilities, "text_document", None)
        code_action = getattr(text_document, "code_action", None)
        support = getattr(code_action, "resolve_support", None)
        return not (support and "edit" in (support.properties or []))

    async def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        server = self.server
        only = params.context.only
        if only and not any(CODE_ACTION_KIND == k or CODE_ACTION_KIND.startswith(f"{k}.") for k in only):
            return []
        uri = params.text_document.uri
        state, text = server.text_of(uri)
        actions = self.pending_actions(uri, state, text)
        if len(text) > MAX_SUGGEST_CHARS:
            return [*actions, disabled_action("EditSeq: file too large for suggestions", "file too large")]
        server.model.ensure_loading()
        if server.host.state == LOADING:
            return [
                *actions,
                disabled_action("EditSeq: model loading", "the model is loading; try again shortly"),
            ]
        if server.host.state != READY:
            return actions
        started = time.perf_counter()
        computed = await server.suggestions.suggestions_for(uri, params.range.start.line)
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
                    uri, server.pinned(computed.version), computed.buffer, suggestion.placements
                )
            actions.append(action)
        if result.suggestions:
            server.suggestions.shown[uri] = computed
            edits = [s.edit_text for s in result.suggestions]
            server.suggestions.record("shown", uri, computed, suggestions=edits)
        server.host.latency_ms["code_action"] = round((time.perf_counter() - started) * 1000, 1)
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
        server = self.server
        data = action.data if isinstance(action.data, dict) else {}
        uri, version, line, index = (data.get(k) for k in ("uri", "version", "line", "index"))
        if not isinstance(uri, str) or not isinstance(line, int) or not isinstance(index, int):
            return action  # not one of ours (or already carries its edit)
        state = server.docs.get(uri)
        computed = server.suggestions.cache.get(uri, {}).get(("line", line))
        if state is None or computed is None or computed.version != version or state.version != version:
            raise JsonRpcContentModified("EditSeq: the document changed since these suggestions were made")
        suggestions = computed.result.suggestions
        if not 0 <= index < len(suggestions):
            raise JsonRpcInvalidParams(f"no suggestion {index} (there are {len(suggestions)})")
        action.edit = workspace_edit(
            uri, server.pinned(version), computed.buffer, suggestions[index].placements
        )
        return action

    async def inline_completion(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        server = self.server
        uri = params.text_document.uri
        state, text = server.text_of(uri)
        server.model.ensure_loading()
        if server.host.state != READY or len(text) > MAX_SUGGEST_CHARS:
            return types.InlineCompletionList(items=[])
        computed = await server.suggestions.suggestions_for(uri, params.position.line)
        suggestions = computed.result.suggestions
        if not suggestions:
            return types.InlineCompletionList(items=[])
        item = inline_item(computed.buffer, params.position, list(suggestions[0].placements))
        if item is None:
            return types.InlineCompletionList(items=[])
        server.suggestions.shown[uri] = computed
        server.suggestions.record("shown", uri, computed, suggestions=[suggestions[0].edit_text], inline=True)
        return types.InlineCompletionList(items=[item])


def disabled_action(title: str, reason: str) -> types.CodeAction:
    return types.CodeAction(
        title=title, kind=CODE_ACTION_KIND, disabled=types.CodeActionDisabled(reason=reason)
    )
