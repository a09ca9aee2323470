"""How suggestions reach the editor: code actions of kind ``refactor.editseq`` (the edit computed eagerly or on
``codeAction/resolve``; a suggestion planned as several steps offers its first step and all of them), the pending
steps (the next one, and all that are left) as code actions, and the best suggestion or the next pending step as
inline completion (ghost text). While a document has pending steps that its buffer is at, they are its suggestions:
the model is not asked."""

from __future__ import annotations

import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams

from lsp_server import commands
from lsp_server.documents import PendingSequence
from lsp_server.inline import best_inline, inline_item
from lsp_server.model_host import LOADING, READY
from lsp_server.model_lifecycle import RequestFailed
from lsp_server.plans import combined_placements, is_plan, next_placements, plan_steps, remaining_placements
from lsp_server.suggestion_cache import Computed
from lsp_server.text_edits import preview_title, workspace_edit

CODE_ACTION_KIND = "refactor.editseq"
# Beyond this size a buffer is not sent to the model (a minified bundle, a data file).
MAX_SUGGEST_CHARS = 1_000_000


class SuggestionViews:
    """Code actions, their resolve, and inline completion, over the server's suggestion cache.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``text_of``,
    ``docs``, ``host``, ``model``, ``suggestions``, ``sequences``, ``pinned`` and ``client_capabilities``.
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
        if (pending := server.sequences.current(uri, state, text)) is not None:
            return self.pending_actions(uri, pending, text)
        # Whether the last suggestions shown were taken, before this request's replace them.
        server.suggestions.detect_acceptance(uri, text)
        if len(text) > MAX_SUGGEST_CHARS:
            return [disabled_action("EditSeq: file too large for suggestions", "file too large")]
        server.model.ensure_loading()
        if server.host.state == LOADING:
            return [disabled_action("EditSeq: model loading", "the model is loading; try again shortly")]
        if server.host.state != READY:
            return []
        started = time.perf_counter()
        try:
            computed = await server.suggestions.suggestions_for(uri, params.range.start.line)
        except RequestFailed as exc:  # the model cannot run the chosen strategy
            return [disabled_action(exc.message, exc.message)]
        result = computed.result
        if result.buffer_error:
            return [disabled_action(f"EditSeq: {result.buffer_error}", result.buffer_error)]
        eager = self.wants_edit_eagerly()
        actions = []
        for index, suggestion in enumerate(result.suggestions):
            actions.extend(self.suggestion_actions(uri, computed, index, suggestion, eager))
        if result.suggestions:
            server.suggestions.shown[uri] = computed
            edits = [s.edit_text for s in result.suggestions]
            server.suggestions.record("shown", uri, computed, suggestions=edits)
        server.host.latency_ms["code_action"] = round((time.perf_counter() - started) * 1000, 1)
        return actions

    def suggestion_actions(
        self, uri: str, computed: Computed, index: int, suggestion: Any, eager: bool
    ) -> list[types.CodeAction]:
        """The action inserting a suggestion; for a plan of n steps, one taking its first step (the others then
        become pending) and one taking all n at once."""
        data = {"uri": uri, "version": computed.version, "line": computed.line, "index": index}
        choices = [(preview_title(suggestion.placements), data, suggestion.placements)]
        if is_plan(suggestion):
            steps = plan_steps(suggestion)
            combined = combined_placements(computed.buffer, steps)
            choices = [
                (f"Step 1/{len(steps)}: {choices[0][0]}", data, suggestion.placements),
                (f"All {len(steps)} steps: {preview_title(combined)}", {**data, "all": True}, combined),
            ]
        actions = []
        for title, action_data, placements in choices:
            action = types.CodeAction(title=title, kind=CODE_ACTION_KIND, data=action_data)
            if eager:
                pinned = self.server.pinned(computed.version)
                action.edit = workspace_edit(uri, pinned, computed.buffer, placements)
            actions.append(action)
        return actions

    def pending_actions(self, uri: str, pending: PendingSequence, text: str) -> list[types.CodeAction]:
        """The next pending step, and all the steps left when there are several."""
        if pending.applying or not pending.matches(text):
            return []
        total, left = len(pending.steps), len(pending.remaining)
        title = f"EditSeq: accept step {pending.index + 1}/{total}: {preview_title(next_placements(pending, text))}"
        actions = [command_action(title, commands.ACCEPT_NEXT_STEP, uri)]
        if left > 1:
            which = f"all {left} steps" if left == total else f"the remaining {left} steps"
            title = f"EditSeq: accept {which}: {preview_title(remaining_placements(pending, text))}"
            actions.append(command_action(title, commands.ACCEPT_ALL, uri))
        return actions

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
        suggestion = suggestions[index]
        placements = suggestion.placements
        if data.get("all") and is_plan(suggestion):
            placements = combined_placements(computed.buffer, plan_steps(suggestion))
        action.edit = workspace_edit(uri, server.pinned(version), computed.buffer, placements)
        return action

    async def inline_completion(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        server = self.server
        uri = params.text_document.uri
        state, text = server.text_of(uri)
        if (pending := server.sequences.current(uri, state, text)) is not None:
            if pending.applying or not pending.matches(text):
                return types.InlineCompletionList(items=[])
            item = inline_item(text, params.position, next_placements(pending, text))
            return types.InlineCompletionList(items=[item] if item is not None else [])
        server.suggestions.detect_acceptance(uri, text)
        server.model.ensure_loading()
        if server.host.state != READY or len(text) > MAX_SUGGEST_CHARS:
            return types.InlineCompletionList(items=[])
        try:
            computed = await server.suggestions.suggestions_for(uri, params.position.line)
        except RequestFailed:
            return types.InlineCompletionList(items=[])
        shown = best_inline(computed.buffer, params.position, computed.result.suggestions)
        if shown is None:
            return types.InlineCompletionList(items=[])
        suggestion, item = shown
        server.suggestions.shown[uri] = computed
        server.suggestions.record("shown", uri, computed, suggestions=[suggestion.edit_text], inline=True)
        return types.InlineCompletionList(items=[item])


def command_action(title: str, command: str, uri: str) -> types.CodeAction:
    run = types.Command(title=title, command=command, arguments=[{"uri": uri}])
    return types.CodeAction(title=title, kind=CODE_ACTION_KIND, command=run)


def disabled_action(title: str, reason: str) -> types.CodeAction:
    return types.CodeAction(
        title=title, kind=CODE_ACTION_KIND, disabled=types.CodeActionDisabled(reason=reason)
    )
