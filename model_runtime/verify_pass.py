"""A forward pass over a few new tokens whose logits equal, row for row, those of decoding the tokens one at a time.

Speculative decoding (``model_runtime.speculation``) runs the last token and a draft through the model in one pass;
its greedy output is the same as one-token decoding's only where each row's logits are. On a CPU two things make
them differ: attention of several query rows runs as one masked kernel call where a one-token step runs an unmasked
one, and an ``Int8Linear`` of more than its ``small_rows`` rows takes another matmul. ``exact_rows`` swaps both for one
pass: attention runs row by row (each query against the keys up to its own position, unmasked, as a decoding step
runs it), and int8 layers keep their int8 kernel, which computes each row alone. On Qwen2.5-Coder-0.5B int8 this
makes a verification pass of 2-11 rows bit-equal to the decoding steps, and costs no more than the masked pass
(whose logits were one bf16 step, 0.125, off). fp32 Linear layers are not row-independent (an n-row matmul rounds
differently from a one-row one: logits about 2e-5 apart), so there greedy output stays the same except at near-ties.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

ROW_BY_ROW = "editseq-rows"  # prefix of the attention implementations registered here: "editseq-rows|sdpa"
# Implementations run row by row: those that take one unmasked query row as a decoding step does. Another (eager,
# flash) runs the pass unchanged: still correct, exact only up to rounding.
SPLITTABLE = ("sdpa",)


@contextlib.contextmanager
def exact_rows(model, rows: int, device: str) -> Iterator[None]:
    """Within the block, a forward pass of ``rows`` new tokens at batch 1 gives each row the logits of a one-token
    step (CPU; other devices run unchanged). The caller holds the model's lock: this changes the model for a while."""
    from model_runtime.quantize import kernel_rows

    with contextlib.ExitStack() as stack:
        stack.enter_context(kernel_rows(model, rows))
        config = model.config
        inner = getattr(config, "_attn_implementation", None)
        if rows > 1 and device.split(":")[0] == "cpu" and inner in SPLITTABLE and not _windowed(config):
            config._attn_implementation = _registered(inner)
            stack.callback(setattr, config, "_attn_implementation", inner)
        yield


def _windowed(config) -> bool:
    """Whether some layer attends through a sliding window (then the unmasked row-by-row call would be wrong)."""
    if "sliding_attention" in (getattr(config, "layer_types", None) or ()):
        return True
    return bool(getattr(config, "sliding_window", None)) and bool(getattr(config, "use_sliding_window", True))


def _registered(inner: str) -> str:
    """The name of the row-by-row wrapper around attention implementation ``inner``, registered on first use.

    transformers builds no mask for an implementation its mask registry does not know, so the wrapper receives
    none; it is used at batch 1 without padding only, where the causal mask is all the mask there is.
    """
    from transformers import AttentionInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    name = f"{ROW_BY_ROW}|{inner}"
    if name not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(name, _row_by_row(inner))
    return name


def _row_by_row(inner: str):
    def attention(module, query, key, value, attention_mask, **kwargs):
        import torch
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        function = ALL_ATTENTION_FUNCTIONS[inner]
        rows, length = query.shape[2], key.shape[2]
        outputs = []
        for row in range(rows):
            seen = length - rows + row + 1  # keys up to and including this row's own position
            out, _ = function(
                module, query[:, :, row : row + 1], key[:, :, :seen], value[:, :, :seen], None, **kwargs
            )
            outputs.append(out)
        return torch.cat(outputs, dim=1), None

    return attention
