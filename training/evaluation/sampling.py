"""Draw n samples for each of several prompts from a loaded model, in batches (the model edge of the evaluation).

Uses the model's own ``generate`` (sampling with temperature and top-p, or greedy at temperature 0) with the
tokenizer's eos and optional stop strings; returns only the new text of each sample, eos and padding removed.

Several prompts can be sampled together (``sample_batch``): they are left-padded to one length and masked, so each
forward pass runs prompts x batch_size sequences. On a GPU that turns HumanEval's 164 small batches into a few
large ones; one prompt alone is never padded, so a batch of one is exactly the unbatched sampler.
"""

from __future__ import annotations

from collections.abc import Sequence


def sample_batch(
    loaded,
    prompt_texts: Sequence[str],
    n: int,
    *,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 256,
    stop: Sequence[str] = (),
    batch_size: int = 10,
    seed: int | None = None,
) -> list[list[str]]:
    """``n`` continuations of each prompt, in prompt order; ``batch_size`` samples of every prompt per pass.

    At temperature 0 each prompt gets one greedy continuation (``greedy_texts``), repeated n times."""
    import torch

    if not prompt_texts:
        return []
    if temperature <= 0:
        greedy = greedy_texts(loaded, prompt_texts, max_new_tokens=max_new_tokens, stop=stop)
        return [[text] * n for text in greedy]
    model, tokenizer = loaded.model, loaded.tokenizer
    if seed is not None:
        torch.manual_seed(seed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = _left_padded(
        [tokenizer(text, add_special_tokens=False)["input_ids"] for text in prompt_texts],
        pad_id,
        loaded.device,
    )
    options = {
        "max_new_tokens": max_new_tokens,
        "do_sample": True,
        "eos_token_id": list(loaded.eos_token_ids) or tokenizer.eos_token_id,
        "pad_token_id": pad_id,
    }
    options.update(temperature=temperature, top_p=top_p)
    if stop:
        options.update(stop_strings=list(stop), tokenizer=tokenizer)
    texts: list[list[str]] = [[] for _ in prompt_texts]
    remaining = n
    while remaining > 0:
        size = min(batch_size, remaining)
        with loaded.lock, torch.inference_mode():
            output = model.generate(**encoded, num_return_sequences=size, **options)
        # generate repeats each prompt `size` times in a row: rows [i * size, (i + 1) * size) belong to prompt i.
        new = tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=False)
        for i, prompt_samples in enumerate(texts):
            prompt_samples.extend(_strip_special(t, tokenizer) for t in new[i * size : (i + 1) * size])
        remaining -= size
    return texts


def greedy_texts(
    loaded, prompt_texts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = ()
) -> list[str]:
    """One greedy continuation per prompt through the runtime's own decode loop (``model_runtime.generation``),
    the loop the editor's suggestions use, with its prompt cache and its speed-ups; cut at the first stop text."""
    from model_runtime.generation import generate

    texts = []
    for text in prompt_texts:
        result = generate(
            loaded,
            text,
            k=1,
            temperature=0.0,
            max_new_tokens=max_new_tokens,
            stop="eos",
            stop_texts=tuple(stop),
        )
        texts.append(result.candidates[0].text)
    return texts


def _left_padded(prompts: list[list[int]], pad_id: int, device) -> dict:
    """input_ids and attention_mask with every prompt ending at the last column (decoding continues from there)."""
    import torch

    if any(not ids for ids in prompts):
        raise ValueError("a prompt is empty")
    width = max(len(ids) for ids in prompts)
    input_ids = torch.tensor([[pad_id] * (width - len(ids)) + ids for ids in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=device)
    return {"input_ids": input_ids, "attention_mask": mask}


def _strip_special(text: str, tokenizer) -> str:
    """Cut at the first eos; drop padding. ``<|diff|>`` is kept: it is content in the LintSeq format."""
    for token in {tokenizer.eos_token, tokenizer.pad_token} - {None}:
        if token in text:
            text = text[: text.index(token)]
    return text
