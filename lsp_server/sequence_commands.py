"""The pending steps of a document and their commands: generate whole sequences from an instruction, choose one,
step through it or take all its steps at once (the server applies them with ``workspace/applyEdit``), or reject it.
A suggestion planned as several steps joins the same pending steps once the buffer holds its first one
(``lsp_server.plans``). Every change of a document's pending steps is sent to the client (``editseq/pending``);
every outcome goes to the suggestion log.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lsp_server import commands
from lsp_server.documents import DocumentState, PendingSequence
from lsp_server.model_lifecycle import RequestFailed
from lsp_server.plans import (
    PENDING_NOTIFICATION,
    adopted_plan,
    next_placements,
    pending_notice,
    remaining_placements,
)
from lsp_server.suggestion_cache import Computed
from lsp_server.text_edits import workspace_edit


class SequenceCommands:
    """A document's pending steps (``current``), and ``editseq.generate``, ``choose``, ``acceptNextStep``,
    ``acceptAll`` and ``reject``.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``text_of``,
    ``settings``, ``host``, ``cancels``, ``model``, ``suggestions``, ``pinned`` and ``protocol``.
    """

    def __init__(self, server: Any) -> None:
        self.server = server

    # ----------------------------------------------------------------------------------------- pending steps

    def current(self, uri: str, state: DocumentState, text: str) -> PendingSequence | None:
        """The document's pending steps while the buffer is at one of their states, else None (dropped).

        Steps the buffer already holds count as accepted (ghost text, a code action's edit); a buffer holding the
        first step(s) of a shown plan makes its later steps pending; any other edit drops them, so that the next
        request asks the model again.
        """
        pending = state.pending
        if pending is None:
            return self._adopt(uri, state, text)
        if pending.applying:
            return pending
        before = pending.index
        if not pending.catch_up(text):
            self.set_pending(uri, state, None, text)
            return None
        for index in range(before, pending.index):
            self._log_accepted(uri, state, pending, index)
        if pending.done:
            self.set_pending(uri, state, None, text)
            return None
        if pending.index != before:
            self.notify(uri, pending, text)
        return pending

    def _adopt(self, uri: str, state: DocumentState, text: str) -> PendingSequence | None:
        suggestions = self.server.suggestions
        computed = suggestions.shown.get(uri)
        if computed is None or text == computed.buffer:
            return None
        pending = adopted_plan(computed.buffer, computed.result.suggestions, text)
        if pending is None:
            return None
        del suggestions.shown[uri]  # its acceptance is logged here, not again by detect_acceptance
        for index in range(pending.index):
            self._log_accepted(uri, state, pending, index)
        self.set_pending(uri, state, pending, text)
        return pending

    def set_pending(self, uri: str, state: DocumentState, pending: PendingSequence | None, text: str) -> None:
        state.pending = pending
        self.notify(uri, pending, text)

    def notify(self, uri: str, pending: PendingSequence | None, text: str) -> None:
        self.server.protocol.notify(PENDING_NOTIFICATION, pending_notice(uri, pending, text))

    def _log_accepted(self, uri: str, state: DocumentState, pending: PendingSequence, index: int) -> None:
        step = pending.steps[index]
        before = pending.start if index == 0 else pending.steps[index - 1].program
        computed = Computed(
            state.version, step.placements[0].line if step.placements else 0, before, None, 0.0
        )
        self.server.suggestions.record(
            "accepted", uri, computed, suggestion=step.edit_text, step=index, steps=len(pending.steps)
        )

    # ---------------------------------------------------------------------------------------------- commands

    async def accept_next_step(self, args: commands.CommandArgs) -> dict[str, Any]:
        """Apply the next pending step; the steps after it stay pending."""
        state, text = self.server.text_of(args.uri)
        pending, refusal = self._ready(args.uri, state, text)
        if pending is None:
            return refusal
        index = pending.index
        applied = await self._apply(args.uri, state, pending, text, next_placements(pending, text), index + 1)
        if applied is not None:
            return applied
        self._log_accepted(args.uri, state, pending, index)
        if state.pending is pending:
            pending.index = index + 1
            self.set_pending(
                args.uri, state, None if pending.done else pending, self.server.text_of(args.uri)[1]
            )
        return {"applied": True, "step": index + 1, "steps": len(pending.steps), "done": pending.done}

    async def accept_all(self, args: commands.CommandArgs) -> dict[str, Any]:
        """Apply every remaining pending step as one edit."""
        state, text = self.server.text_of(args.uri)
        pending, refusal = self._ready(args.uri, state, text)
        if pending is None:
            return refusal
        first, total = pending.index, len(pending.steps)
        applied = await self._apply(
            args.uri, state, pending, text, remaining_placements(pending, text), total
        )
        if applied is not None:
            return applied
        for index in range(first, total):
            self._log_accepted(args.uri, state, pending, index)
        if state.pending is pending:
            pending.index = total
            self.set_pending(args.uri, state, None, self.server.text_of(args.uri)[1])
        return {"applied": True, "step": total, "steps": total, "done": True}

    def _ready(
        self, uri: str, state: DocumentState, text: str
    ) -> tuple[PendingSequence | None, dict[str, Any]]:
        """The pending steps to apply now, or None and the reply that says why there are none."""
        had = state.pending is not None
        pending = self.current(uri, state, text)
        if pending is None:
            reason = (
                "the buffer changed since these steps were made; ask again"
                if had
                else "no pending steps; run editseq.generate or accept a planned suggestion first"
            )
            return None, {"applied": False, "reason": reason}
        if pending.applying:
            return None, {"applied": False, "reason": "a step is being applied"}
        return pending, {}

    async def _apply(
        self,
        uri: str,
        state: DocumentState,
        pending: PendingSequence,
        text: str,
        placements: list[Any],
        upto: int,
    ) -> dict[str, Any] | None:
        """Ask the client to insert ``placements`` into ``text`` (the steps up to ``upto``); None when it did, else
        the reply saying why not."""
        server = self.server
        edit = workspace_edit(uri, server.pinned(state.version), text, placements)
        first = pending.index + 1
        label = f"EditSeq step {first}/{len(pending.steps)}"
        if upto > first:
            label = f"EditSeq steps {first}-{upto}/{len(pending.steps)}"
        pending.applying = True  # the buffer passes through other states until the client has applied it
        try:
            reply = await server.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        finally:
            pending.applying = False
        if not reply.applied:
            return {"applied": False, "reason": reply.failure_reason or "the client did not apply the edit"}
        return None

    async def generate(self, args: commands.CommandArgs) -> list[dict[str, Any]]:
        server = self.server
        state, text = server.text_of(args.uri)
        server.model.require_model()
        from model_runtime.generation import Cancelled
        from model_runtime.suggestions import generate_sequences

        cancel = server.cancels.new(args.uri)
        request_cancels = server.suggestions.request_cancels
        if (msg_id := server.protocol.msg_id) is not None:
            request_cancels[msg_id] = cancel.set
        settings = server.settings
        started = time.perf_counter()
        try:
            candidates = await server.host.run(
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
            server.cancels.done(args.uri, cancel)
            if msg_id is not None:
                request_cancels.pop(msg_id, None)
        server.host.latency_ms["generate"] = round((time.perf_counter() - started) * 1000, 1)
        state.candidates = list(candidates)
        state.candidates_start = text
        best = next((i for i, c in enumerate(candidates) if c.valid and c.steps), None)
        pending = (
            PendingSequence(start=text, steps=list(candidates[best].steps)) if best is not None else None
        )
        self.set_pending(args.uri, state, pending, server.text_of(args.uri)[1])
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
        state, text = self.server.text_of(args.uri)
        if not state.candidates:
            raise JsonRpcInvalidParams(
                "no generated candidates for this document; run editseq.generate first"
            )
        if args.index >= len(state.candidates):
            raise JsonRpcInvalidParams(f"no candidate {args.index} (there are {len(state.candidates)})")
        candidate = state.candidates[args.index]
        pending = PendingSequence(start=state.candidates_start, steps=list(candidate.steps))
        self.set_pending(args.uri, state, pending, text)
        return {"index": args.index, "steps": len(candidate.steps), "valid": candidate.valid}

    def reject(self, args: commands.CommandArgs) -> dict[str, Any]:
        suggestions = self.server.suggestions
        state, text = self.server.text_of(args.uri)
        suggestions.cancel_work(args.uri)
        rejected = 0
        if (computed := suggestions.shown.pop(args.uri, None)) is not None:
            edits = [s.edit_text for s in computed.result.suggestions]
            suggestions.record("rejected", args.uri, computed, suggestions=edits)
            rejected += len(edits)
        if state.pending is not None and not state.pending.done:
            pending = state.pending
            computed = Computed(state.version, 0, pending.expected_before, None, 0.0)
            suggestions.record(
                "rejected", args.uri, computed, suggestion=pending.steps[pending.index].edit_text
            )
            rejected += 1
        if state.pending is not None:
            self.set_pending(args.uri, state, None, text)
        return {"rejected": rejected}
