"""Frozen linear weights stored in the autocast dtype, so mixed precision stops casting them on every forward pass.

Under bf16 autocast a ``Linear`` computes with its weight cast to bf16, on every call. With LoRA the base weights
never change, so that cast is the same work each micro-batch (casts show as ``aten::copy_``: 14 % of a profiled
CPU step of SmolLM2 LoRA, not all of it these weights).
A weight whose values the low-precision dtype holds exactly (a checkpoint saved in bf16, as the default model is)
is stored in that dtype instead: autocast then uses it as it is, the products are bit-identical (tests), and it
takes half the memory. Weights the dtype would round stay float32, and so does anything shared with the input
embeddings (a tied ``lm_head``), which are looked up outside autocast.
"""

from __future__ import annotations


def store_in(model, dtype) -> int:
    """Store the frozen ``Linear`` weights that ``dtype`` represents exactly in ``dtype``; returns how many."""
    import torch

    embeddings = model.get_input_embeddings()
    shared = {id(p) for p in embeddings.parameters()} if embeddings is not None else set()
    stored = 0
    with torch.no_grad():
        for weight in _frozen_linear_weights(model):
            if id(weight) in shared or weight.dtype != torch.float32:
                continue
            narrow = weight.to(dtype)
            if torch.equal(narrow.to(torch.float32), weight):
                weight.data = narrow
                stored += 1
    return stored


def restore(model) -> None:
    """Frozen ``Linear`` weights back to float32 (exact), e.g. before merging a LoRA adapter into them."""
    import torch

    with torch.no_grad():
        for weight in _frozen_linear_weights(model):
            weight.data = weight.data.to(torch.float32)


def _frozen_linear_weights(model):
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and not module.weight.requires_grad:
            yield module.weight
