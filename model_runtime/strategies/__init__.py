"""Next-edit strategies: buffer, cursor, recent edits and a model -> candidate insertion edits.

One module per strategy, each with ``propose(loaded, request) -> Proposals``; ``suggestions.suggest`` validates,
deduplicates and ranks what they return, the same way for all of them:

- ``lintseq``: the model writes ``<|diff|>`` hunks (models finetuned on LintSeq, such as the SmolLM2 adapter);
- ``fim``: fill-in-the-middle at the cursor with the model's FIM tokens;
- ``rewrite``: an instruct model completes the function at the cursor; what it adds is split into lint-clean
  insertion steps (write, then decompose);
- ``continue``: the ``rewrite`` prompt with the answer pre-filled up to the cursor, so the model writes only the
  new lines (stopped when it repeats the line after the cursor).

A new strategy is one module and one line in ``STRATEGIES``.
"""

from __future__ import annotations

from collections.abc import Callable

from model_runtime.loading import LoadedModel
from model_runtime.strategies import continuation, fim, lintseq, rewrite
from model_runtime.strategies.base import Proposal, Proposals, Request

STRATEGIES: dict[str, Callable[[LoadedModel, Request], Proposals]] = {
    "lintseq": lintseq.propose,
    "fim": fim.propose,
    "rewrite": rewrite.propose,
    "continue": continuation.propose,
}

__all__ = ["STRATEGIES", "Proposal", "Proposals", "Request", "default_strategy", "resolve"]


def default_strategy(loaded: LoadedModel) -> str:
    """The strategy a model uses unless told otherwise: its registry entry's, else ``lintseq`` for a LintSeq
    adapter or a model without a chat template and FIM tokens, else ``rewrite``."""
    named = getattr(loaded, "strategy", None)
    if named:
        return named
    if loaded.adapter:
        return "lintseq"
    tokenizer = loaded.tokenizer
    if getattr(tokenizer, "chat_template", None) and not fim.missing_tokens(tokenizer):
        return "rewrite"
    return "lintseq"


def resolve(name: str | None, loaded: LoadedModel) -> str:
    """The strategy to use: ``name`` when given (checked), else the model's default."""
    if name in (None, "", "default"):
        return default_strategy(loaded)
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return name
