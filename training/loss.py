"""The training loss: summed cross-entropy over response tokens, with logits computed only where a label needs one.

Prompt tokens carry the label -100 (about half of the baseline twin's packed rows), so their projection onto the
49k-token vocabulary and the float32 log-softmax over it are work thrown away. Models whose ``forward`` takes
``logits_to_keep`` (transformers' decoders, Llama among them) get only the positions where some row of the batch
has a label; other models get every position. The loss is the same either way (tests); with ``frozen_weights`` a
CPU micro-batch of SmolLM2 LoRA got 1.23x faster (benchmarks/train_step.py).
"""

from __future__ import annotations

import functools
import inspect


def response_loss(model, batch, device, *, every_position: bool = False):
    """Summed cross-entropy over response tokens and their count (the sum lets accumulation weight by tokens).

    ``every_position`` projects every position, as models without ``logits_to_keep`` do (the baseline that the
    tests and benchmarks/train_step.py compare against).
    """
    import torch

    batch = {k: v.to(device) for k, v in batch.items()}
    labels = batch["labels"][:, 1:]  # the logit at position i predicts the token at i + 1
    options = {}
    if not every_position and _takes_logits_to_keep(type(_innermost(model))):
        keep = (labels != -100).any(dim=0).nonzero().squeeze(1)
        options["logits_to_keep"] = keep
        labels = labels[:, keep]
    logits = model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False, **options
    ).logits
    if not options:
        logits = logits[:, :-1]
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100, reduction="sum"
    )
    return loss, int((labels != -100).sum())


def _innermost(model):
    """The transformers model under the wrappers: DistributedDataParallel's ``module``, peft's base model."""
    while hasattr(model, "module"):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


@functools.cache
def _takes_logits_to_keep(model_class: type) -> bool:
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters
