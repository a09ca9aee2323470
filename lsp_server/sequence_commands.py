"""The multi-step sequence commands: generate whole sequences from an instruction, choose one, step through it
(the server applies each step with ``workspace/applyEdit``), or reject it; every outcome goes to the suggestion log.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lsp_server import commands
from lsp_server.documents import PendingSequence
from lsp_server.model_lifecycle import RequestFailed
from lsp_server.suggestion_cache import Computed
from lsp_server.text_edits import workspace_edit


class SequenceCommands:
    """``editseq.generate``, ``editseq.choose``, ``editseq.acceptNextStep`` and ``editseq.reject``.

    ``server`` is the EditSeqServer (not imported here: it imports this module); this uses its ``text_of``,
    ``settings``, ``host``, ``cancels``, ``model``, ``suggestions``, ``pinned`` and ``protocol``.
    """

    def __init__(self, server: Any) -> None:
        self.server = server

    async def accept_next_step(self, args: commands.CommandArgs) -> dict[str, Any]:
        server = self.server
        state, text = server.text_of(args.uri)
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
        edit = workspace_edit(args.uri, server.pinned(state.version), text, placements)
        label = f"EditSeq step {index + 1}/{len(pending.steps)}"
        reply = await server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=label)
        )
        if not reply.applied:
            return {"applied": False, "reason": reply.failure_reason or "the client did not apply the edit"}
        pending.index += 1
        computed = Computed(state.version, step.placements[0].line if step.placements else 0, text, None, 0.0)
        server.suggestions.record(
            "accepted", args.uri, computed, suggestion=step.edit_text, step=index, steps=len(pending.steps)
        )
        if pending.done:
            state.pending = None
        return {"applied": True, "step": index + 1, "steps": len(pending.steps), "done": pending.done}

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
        state, _ = self.server.text_of(args.uri)
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
        suggestions = self.server.suggestions
        state, _ = self.server.text_of(args.uri)
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
        state.pending = None
        return {"rejected": rejected}


def leading_blank_lines(text: str) -> int:
    lines = text.split("\n")
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


def shifted(placements: Any, offset: int) -> list[Any]:
    """Placements moved down by ``offset`` lines (the buffer has more blank lines on top than expected)."""
    if offset == 0:
        return list(placements)
    return [SimpleNamespace(line=max(p.line + offset, 0), lines=p.lines) for p in placements]
