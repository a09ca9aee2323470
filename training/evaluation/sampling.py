"""Draw n samples for one prompt from a loaded model, in batches (the model edge of the evaluation).

Uses the model's own ``generate`` (sampling with temperature and top-p, or greedy at temperature 0) with the
tokenizer's eos and optional stop strings; returns only the new text of each sample, eos and padding removed.
"""

from __future__ import annotations

from collections.abc import Sequence


def sample_texts(
    loaded,
    prompt_text: str,
    n: int,
    *,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 256,
    stop: Sequence[str] = (),
    batch_size: int = 10,
    seed: int | None = None,
) -> list[str]:
    """``n`` continuations of ``prompt_text``; at temperature 0 one greedy continuation, repeated n times."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    if seed is not None:
        torch.manual_seed(seed)
    encoded = tokenizer(prompt_text, return_tensors="pt", add_special_tokens=False).to(loaded.device)
    greedy = temperature <= 0
    options = {
        "max_new_tokens": max_new_tokens,
        "do_sample": not greedy,
        "eos_token_id": list(loaded.eos_token_ids) or tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
    }
    if not greedy:
        options.update(temperature=temperature, top_p=top_p)
    if stop:
        options.update(stop_strings=list(stop), tokenizer=tokenizer)
    texts: list[str] = []
    remaining = 1 if greedy else n
    while remaining > 0:
        size = min(batch_size, remaining)
        with loaded.lock, torch.inference_mode():
            output = model.generate(**encoded, num_return_sequences=size, **options)
        new = output[:, encoded["input_ids"].shape[1] :]
        texts.extend(tokenizer.batch_decode(new, skip_special_tokens=False))
        remaining -= size
    texts = [_strip_special(t, tokenizer) for t in texts]
    return texts * n if greedy else texts


def _strip_special(text: str, tokenizer) -> str:
    """Cut at the first eos; drop padding. ``<|diff|>`` is kept: it is content in the LintSeq format."""
    for token in {tokenizer.eos_token, tokenizer.pad_token} - {None}:
        if token in text:
            text = text[: text.index(token)]
    return text
