"""Int8 weight-only Linear layers for CPU decoding (opt-in: ``load_model(..., quantize="int8")``).

Batch-1 decoding on a CPU is dominated by reading every weight once per token, so fewer bytes per weight is the
lever. Each ``nn.Linear`` (the LM head included) is replaced by ``Int8Linear``: per-output-channel symmetric int8
weights with a bf16 scale. Matmuls of a few rows (decode steps, k candidates) run ``torch._weight_int8pack_mm``
(int8 weights, bf16 activations, 4x fewer bytes than fp32); matmuls of many rows (a prompt) run a bf16 copy of the
same dequantised weights through oneDNN where the CPU computes in bf16 natively (AMX/AVX512-bf16). A CPU without
native bf16 (AVX2 only, such as the 2-core AMD EPYC this project is built on) would emulate that GEMM about 7x slower
than fp32, so there the weights are dequantised to fp32 per call instead (no resident copy; the prompt of a
0.5B model prefills at fp32 speed). Dequantising costs a whole pass over the weights, so on such a CPU the int8
kernel keeps matmuls of up to ``SMALL_ROWS_WITHOUT_BF16`` rows (a batch of sampled answers decoding together).
Everything else
(embeddings, norms, attention, the residual stream, the logits) stays in the model's dtype, so a Linear's only
changes are its rounded weights and its bf16 input and output.

Measured with ``benchmarks/suggest_latency.py`` (the quality and speed tables there); the choice stays opt-in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

QUANTIZE_MODES = ("none", "int8")
# Up to this many rows the int8 kernel is faster than bf16 on a Sapphire Rapids core (4 rows: 1.1-1.6x); above it
# oneDNN's bf16 GEMM wins (8 rows: 1.5-1.9x, a 300-token prompt: 3-15x).
SMALL_ROWS = 4
# Without native bf16 the other path dequantises the weights to fp32 on every call: on an AVX2 AMD EPYC core the
# int8 kernel stays faster up to about 32 rows (10 rows: 2.5-3.3 ms against 10 ms for a 896 x 4864 layer; 64 rows:
# even). Measured with benchmarks/int8_rows.py.
SMALL_ROWS_WITHOUT_BF16 = 32


def _module_class():
    import torch

    class Int8Linear(torch.nn.Module):
        """A Linear whose weight is int8 per output channel (scale in bf16); see the module docstring."""

        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            weight = linear.weight.detach().float()
            # The scale is rounded to bf16 first (the kernel takes it in the activations' dtype) and the weights
            # are quantised against that rounded scale, so int8 * scale is the closest representable weight.
            scales = (weight.abs().amax(dim=1).clamp(min=1e-12) / 127).to(torch.bfloat16)
            quantised = torch.round(weight / scales.float()[:, None]).clamp(-127, 127).to(torch.int8)
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.register_buffer("weight_int8", quantised.contiguous())
            self.register_buffer("scales", scales)
            self.native_bf16 = native_bf16()
            # Matmuls of up to this many rows take the int8 kernel; ``kernel_rows`` raises it for a while.
            self.small_rows = default_small_rows(self.native_bf16)
            if self.native_bf16:
                self.register_buffer(
                    "weight_bf16", (quantised.float() * scales.float()[:, None]).to(torch.bfloat16)
                )
            self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach(), False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = x.numel() // self.in_features
            flat = x.reshape(rows, self.in_features).to(torch.bfloat16)
            if rows <= self.small_rows:
                out = torch._weight_int8pack_mm(flat, self.weight_int8, self.scales)
            elif self.native_bf16:
                out = torch.nn.functional.linear(flat, self.weight_bf16)
            else:
                weight = self.weight_int8.float() * self.scales.float()[:, None]
                out = torch.nn.functional.linear(flat.float(), weight)
            out = out.to(x.dtype).reshape(*x.shape[:-1], self.out_features)
            return out if self.bias is None else out + self.bias

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"

    return Int8Linear


_INT8_LINEAR = None


def int8_linear_class():
    """The ``Int8Linear`` module class (built on first use, so importing this module does not import torch)."""
    global _INT8_LINEAR
    if _INT8_LINEAR is None:
        _INT8_LINEAR = _module_class()
    return _INT8_LINEAR


@contextlib.contextmanager
def kernel_rows(model, rows: int) -> Iterator[None]:
    """Within the block, matmuls of up to ``rows`` rows of ``model``'s ``Int8Linear`` layers take the int8 kernel.

    The kernel computes each row alone (its result for a row does not depend on the other rows: checked on AVX2 for
    1-16 rows), so a pass over a few draft tokens gives bit for bit the rows of one-token decoding steps, which the
    bf16 or dequantised fp32 matmul above a layer's ``small_rows`` does not. Callers hold the model's lock.
    """
    layers = [module for module in model.modules() if isinstance(module, int8_linear_class())]
    before = [layer.small_rows for layer in layers]
    for layer in layers:
        layer.small_rows = max(rows, layer.small_rows)
    try:
        yield
    finally:
        for layer, small_rows in zip(layers, before, strict=True):
            layer.small_rows = small_rows


def default_small_rows(native: bool) -> int:
    """Up to how many rows an ``Int8Linear`` takes the int8 kernel, on a CPU with or without native bf16."""
    return SMALL_ROWS if native else SMALL_ROWS_WITHOUT_BF16


def native_bf16() -> bool:
    """Whether oneDNN computes bf16 matmuls natively on this CPU (AVX512-bf16 or AMX), not by emulation."""
    import torch

    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(probe()) if probe is not None else False


def supported(device: str) -> bool:
    """Whether int8 weight-only decoding is available: CPU with torch's ``_weight_int8pack_mm`` kernel."""
    import torch

    return device.split(":")[0] == "cpu" and hasattr(torch, "_weight_int8pack_mm")


def quantize_int8(model) -> int:
    """Replace every ``nn.Linear`` of ``model`` (in place) by ``Int8Linear``; returns how many were replaced.

    Tied weights are untied: the input embedding keeps its full-precision table, the LM head gets int8 rows.
    """
    import torch

    linear_class = int8_linear_class()
    targets = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is torch.nn.Linear
    ]
    for parent, name, child in targets:
        setattr(parent, name, linear_class(child))
    if getattr(model.config, "tie_word_embeddings", False):
        # save_pretrained or resize_token_embeddings would try to tie the (now int8) head back to the embedding.
        model.config.tie_word_embeddings = False
    return len(targets)
