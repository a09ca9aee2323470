"""Does a model write the LintSeq edit separator? The teacher-forced log-probability of ``<|diff|>`` where a
record's training text has it, against every other response token.

A model that has learned the format gives the separator a probability near that of the other tokens. The first
0.5B adapter gave it about e^-18 (its output row was not trained; docs/finetuning.md) and never wrote one.
Used by ``benchmarks/separator_logprob.py`` and the tests of new token rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def separator_logprob(loaded, records: Iterable[dict], fmt: str) -> dict:
    """Mean log-probabilities of the separator and of the other response tokens over ``records`` (LintSeq records
    in the text format ``fmt``, ``plain`` or ``chat``), and how many positions of each were scored."""
    import torch

    from training import datasets

    separator, other = [], []
    for record in records:
        example = datasets.tokenize(loaded.tokenizer, *datasets.texts(record, loaded.tokenizer, fmt))
        ids = torch.tensor([example.input_ids], device=loaded.device)
        with torch.inference_mode():
            logprobs = torch.log_softmax(loaded.model(ids).logits[0, :-1].float(), dim=-1)
        for position, (target, label) in enumerate(
            zip(example.input_ids[1:], example.labels[1:], strict=True)
        ):
            if label != -100:
                (separator if target == loaded.diff_token_id else other).append(
                    logprobs[position, target].item()
                )
    return {
        "separators": len(separator),
        "separator_logprob": statistics.mean(separator) if separator else None,
        "other_tokens": len(other),
        "other_logprob": statistics.mean(other) if other else None,
    }
