"""The ``lintseq`` strategy: the model writes the next ``<|diff|>`` hunk itself (models finetuned on LintSeq).

The prompt is the instruction and the buffer as LintSeq edit history (``prompts.build_prompt``); generation stops
at the next separator. Edits count the lines the prompt shows (``Proposals.hidden`` says which it left out).
"""

from __future__ import annotations

from collections.abc import Callable

from model_runtime.edits import DIFF_TOKEN
from model_runtime.generation import generate
from model_runtime.loading import LoadedModel
from model_runtime.prompts import build_prompt, plain_head
from model_runtime.strategies.base import Proposal, Proposals, Request


def head_for(loaded: LoadedModel) -> Callable[[str], str]:
    """How this model's prompts start: the plain instruction, or the chat template's user turn (chat format)."""
    if loaded.prompt_format != "chat":
        return plain_head
    tokenizer = loaded.tokenizer

    def chat_head(instruction: str) -> str:
        turn = [{"role": "user", "content": instruction}]
        return tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True) + DIFF_TOKEN

    return chat_head


def propose(loaded: LoadedModel, request: Request) -> Proposals:
    """Next edits written by the model as LintSeq hunks, one per sampled candidate."""
    prompt = build_prompt(
        request.buffer,
        instruction=request.instruction,
        line=request.line,
        history=request.history,
        mode=request.mode,
        head=head_for(loaded),
        window=request.window,
        tree=request.tree,
    )
    result = generate(
        loaded,
        prompt.text,
        k=request.k,
        temperature=request.temperature,
        top_p=request.top_p,
        max_new_tokens=request.max_new_tokens,
        stop="edit",
        cancel=request.cancel,
        on_token=request.on_token,
        seed=request.seed,
        cache_key=request.cache_key,
    )
    outputs = [Proposal(c.text, c.mean_logprob) for c in result.candidates if c.finish != "length"]
    # An edit cut off by max_new_tokens is malformed output too: it never reached its end.
    truncated = sum(1 for c in result.candidates if c.finish == "length")
    return Proposals(outputs, result.timings, prompt.hidden, prompt.append_at, malformed=truncated)
