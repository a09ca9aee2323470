"""How many rows should an ``Int8Linear`` send through the int8 kernel on this CPU? Layer timings, then the effect
on sampling a batch of answers with the real model, old threshold against the one ``model_runtime.quantize`` picks.

    python benchmarks/int8_rows.py [--model qwen2.5-coder-0.5b-instruct] [--threads 1] [--batch 10]
                                   [--new-tokens 64] [--skip-model] [--json OUT]

Part 1 times one matmul of the 0.5B's MLP shapes (896 x 4864 and back) for 1-256 rows three ways: the int8 kernel
(``torch._weight_int8pack_mm``), the fp32 weights dequantised on every call (the path for many rows where the CPU
has no native bf16), and a resident bf16 copy (the path where it has). Part 2 samples ``--batch`` answers to one
HumanEval prompt for ``--new-tokens`` tokens (no early stop), first with every layer's threshold at
``quantize.SMALL_ROWS`` (4: the rule before), then at the layer's own default, and prints tokens per second.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROWS = (1, 4, 8, 10, 16, 32, 64, 256)
SHAPES = ((896, 4864), (4864, 896))  # Qwen2.5-Coder-0.5B's MLP up/gate and down projections (in, out)


def per_call_ms(fn, seconds: float = 0.3) -> float:
    fn()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return 1e3 * (time.perf_counter() - start) / calls


def layer_rows(native: bool) -> list[dict]:
    import torch

    def dequantised(x, quantised, scales):
        return torch.nn.functional.linear(x.float(), quantised.float() * scales.float()[:, None])

    rows_out = []
    for fan_in, fan_out in SHAPES:
        weight = torch.randn(fan_out, fan_in)
        scales = (weight.abs().amax(dim=1) / 127).to(torch.bfloat16)
        quantised = torch.round(weight / scales.float()[:, None]).clamp(-127, 127).to(torch.int8)
        bf16 = (quantised.float() * scales.float()[:, None]).to(torch.bfloat16)
        for rows in ROWS:
            x = torch.randn(rows, fan_in).to(torch.bfloat16)
            row = {
                "shape": f"{fan_in}x{fan_out}",
                "rows": rows,
                "int8_ms": per_call_ms(functools.partial(torch._weight_int8pack_mm, x, quantised, scales)),
                "dequantised_ms": per_call_ms(functools.partial(dequantised, x, quantised, scales)),
            }
            if native:
                row["bf16_ms"] = per_call_ms(functools.partial(torch.nn.functional.linear, x, bf16))
            rows_out.append(row)
    return rows_out


def sampling_rows(model: str, batch: int, new_tokens: int) -> list[dict]:
    from model_runtime.loading import load_model
    from model_runtime.quantize import SMALL_ROWS, int8_linear_class
    from training.evaluation.humaneval import build_prompt, load_problems
    from training.evaluation.sampling import sample_batch

    loaded = load_model(model, quantize="int8")
    layers = [m for m in loaded.model.modules() if isinstance(m, int8_linear_class())]
    default = layers[0].small_rows
    template = loaded.tokenizer.apply_chat_template
    prompt = build_prompt(
        load_problems()[0],
        "code",
        lambda text, _mode: template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        ),
    )
    out = []
    for label, threshold in (
        (f"small_rows {SMALL_ROWS} (before)", SMALL_ROWS),
        (f"small_rows {default}", default),
    ):
        for layer in layers:
            layer.small_rows = threshold
        start = time.perf_counter()
        texts = sample_batch(loaded, [prompt], batch, max_new_tokens=new_tokens, batch_size=batch, seed=0)
        seconds = time.perf_counter() - start
        tokens = sum(len(loaded.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts[0])
        out.append({"config": label, "batch": batch, "seconds": seconds, "tokens": tokens})
    for layer in layers:
        layer.small_rows = default
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="registry name or directory")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10, help="answers sampled together (eval humaneval --n)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--skip-model", action="store_true", help="only the layer timings")
    parser.add_argument("--json", type=Path, help="append the rows here as JSON lines")
    args = parser.parse_args(argv)

    import torch

    from model_runtime.quantize import default_small_rows, native_bf16

    torch.set_num_threads(args.threads)
    native = native_bf16()
    chosen = default_small_rows(native)
    print(f"native bf16: {native}; int8 kernel up to {chosen} rows; {args.threads} thread(s)")
    layers = layer_rows(native)
    print("| shape | rows | int8 kernel ms | dequantised fp32 ms | bf16 copy ms | path taken |")
    print("|---|---|---|---|---|---|")
    for row in layers:
        path = "int8" if row["rows"] <= chosen else ("bf16" if native else "dequantised")
        bf16 = f"{row['bf16_ms']:.2f}" if "bf16_ms" in row else "-"
        print(
            f"| {row['shape']} | {row['rows']} | {row['int8_ms']:.2f} | {row['dequantised_ms']:.2f} | {bf16} "
            f"| {path} |"
        )
    sampled = [] if args.skip_model else sampling_rows(args.model, args.batch, args.new_tokens)
    if sampled:
        print(f"\n| {args.model}, int8 | answers | tokens | seconds | tokens/s |")
        print("|---|---|---|---|---|")
        for row in sampled:
            rate = row["tokens"] / row["seconds"]
            print(
                f"| {row['config']} | {row['batch']} | {row['tokens']} | {row['seconds']:.1f} | {rate:.1f} |"
            )
    if args.json:
        with args.json.open("a") as handle:
            for row in layers + sampled:
                handle.write(json.dumps({"native_bf16": native, "threads": args.threads, **row}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
