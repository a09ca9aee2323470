"""Latency of the first validated suggestion (cold and warm, p50/p95, k=1 and k=4), and the decode loop of
``model_runtime.generation`` against plain ``model.generate`` on the same model and prompt.

    python benchmarks/suggest_latency.py [--repeats 5] [--no-default] [--no-dtype] [--threads 1]

"Cold" clears the kept prompt KV cache before each call (a new buffer); "warm" repeats the call on the unchanged
buffer (an editor asking again, or prefetch then request). The tiny model is built on the spot; the default model
is measured when installed (``editseq model install``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_suggest(
    loaded, buffer: str, instruction: str | None, k: int, repeats: int, warm: bool
) -> list[float]:
    from model_runtime.suggestions import suggest

    times = []
    for i in range(repeats + 1):
        if not warm:
            loaded.prompt_cache = None
        started = time.perf_counter()
        suggest(loaded, buffer, instruction=instruction, k=k, seed=i, max_new_tokens=64)
        if i or not warm:  # a warm series starts with one call that fills the cache
            times.append(time.perf_counter() - started)
    return times[-repeats:]


def stop_ids(loaded) -> list[int]:
    return [*loaded.eos_token_ids, loaded.diff_token_id]


def time_hf_generate(loaded, prompt: str, k: int, max_new_tokens: int, seed: int) -> tuple[float, int]:
    """Seconds and generated tokens (up to each row's stop token) of one ``model.generate`` call."""
    import torch

    torch.manual_seed(seed)
    ids = loaded.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(loaded.device)
    started = time.perf_counter()
    with torch.inference_mode():
        out = loaded.model.generate(
            **ids,
            do_sample=True,
            temperature=0.8,
            top_p=0.95,
            max_new_tokens=max_new_tokens,
            num_return_sequences=k,
            eos_token_id=stop_ids(loaded),
            pad_token_id=loaded.tokenizer.pad_token_id,
        )
    elapsed = time.perf_counter() - started
    stops = set(stop_ids(loaded))
    tokens = 0
    for row in out[:, ids["input_ids"].shape[1] :].tolist():
        tokens += next((i + 1 for i, t in enumerate(row) if t in stops), len(row))
    return elapsed, tokens


def time_ours(loaded, prompt: str, k: int, max_new_tokens: int, seed: int, warm: bool) -> tuple[float, int]:
    from model_runtime.generation import generate

    if not warm:
        loaded.prompt_cache = None
    started = time.perf_counter()
    result = generate(loaded, prompt, k=k, max_new_tokens=max_new_tokens, seed=seed)
    return time.perf_counter() - started, result.timings.new_tokens


def bench_model(name: str, loaded, buffer: str, instruction: str | None, repeats: int) -> list[tuple]:
    from model_runtime.prompts import build_prompt
    from model_runtime.suggestions import head_for

    rows = []
    for k in (1, 4):
        for warm in (False, True):
            times = time_suggest(loaded, buffer, instruction, k, repeats, warm)
            rows.append(
                (
                    "suggest",
                    name,
                    k,
                    "warm" if warm else "cold",
                    percentile(times, 0.5),
                    percentile(times, 0.95),
                )
            )
    prompt = build_prompt(buffer, instruction=instruction, head=head_for(loaded)).text
    for k in (1, 4):
        hf = [time_hf_generate(loaded, prompt, k, 64, seed) for seed in range(repeats)]
        hf_rate = sum(t for _, t in hf) / sum(s for s, _ in hf)
        time_ours(loaded, prompt, k, 64, 0, warm=True)  # fill the prompt cache
        for warm in (False, True):
            ours = [time_ours(loaded, prompt, k, 64, seed, warm) for seed in range(repeats)]
            rate = sum(t for _, t in ours) / sum(s for s, _ in ours)
            rows.append(
                (
                    "decode",
                    name,
                    k,
                    "warm" if warm else "cold",
                    statistics.median(s for s, _ in ours),
                    statistics.median(s for s, _ in hf),
                    rate,
                    hf_rate,
                )
            )
    return rows


DTYPE_BUFFERS = (
    "",
    "def add(a, b):\n    return a + b\n",
    'import math\n\n\ndef area(r):\n    """Area of a circle of radius r."""\n',
    'def evens(xs):\n    """The even items of xs, in order."""\n    out = []\n',
)


def dtype_rows(spec, adapter, buffers: list[str], max_new_tokens: int) -> list[tuple]:
    """Per CPU dtype: greedy decoding speed at batch 1 and 4, and how often its greedy tokens equal fp32's."""
    import torch

    from model_runtime.generation import generate
    from model_runtime.loading import load_model
    from model_runtime.prompts import build_prompt
    from model_runtime.suggestions import head_for

    outputs: dict[str, list[tuple[int, ...]]] = {}
    rows = []
    for dtype in ("float32", "bfloat16"):
        loaded = load_model(spec, device="cpu", dtype=dtype, adapter=adapter)
        prompts = [build_prompt(b, head=head_for(loaded)).text for b in buffers]
        for k in (1, 4):
            seconds = tokens = 0.0
            for prompt in prompts:
                loaded.prompt_cache = None
                result = generate(loaded, prompt, k=k, temperature=0, max_new_tokens=max_new_tokens)
                seconds += result.timings.total_s
                tokens += result.timings.new_tokens
                if k == 1:
                    outputs.setdefault(dtype, []).append(result.candidates[0].token_ids)
            rows.append((dtype, k, tokens / seconds))
        del loaded
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    same_tokens = total = 0
    for ours, ref in zip(outputs["bfloat16"], outputs["float32"], strict=True):
        agree = next(
            (i for i, (a, b) in enumerate(zip(ours, ref, strict=False)) if a != b), min(len(ours), len(ref))
        )
        same_tokens += agree
        total += len(ref)
    exact = sum(a == b for a, b in zip(outputs["bfloat16"], outputs["float32"], strict=True))
    return [(*row, same_tokens / total, exact, len(buffers)) for row in rows]


def print_dtype_rows(rows: list[tuple]) -> None:
    print("\nCPU dtype: greedy tokens/s (cold prompt) and agreement of bf16's greedy output with fp32's")
    print(f"{'dtype':9} {'k':>2} {'tok/s':>7} {'bf16=fp32 prefix':>16} {'exact':>7}")
    for dtype, k, rate, prefix, exact, n in rows:
        print(f"{dtype:9} {k:>2} {rate:7.1f} {prefix:15.0%} {exact:>3}/{n:<3}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-default", action="store_true", help="skip the default model")
    parser.add_argument("--no-dtype", action="store_true", help="skip the fp32/bf16 measurement")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from model_runtime import default_model
    from model_runtime.loading import load_model
    from tests.support import tiny_model

    rows, dtypes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tiny = load_model(tiny_model.build(Path(tmp) / "tiny"), device="cpu")
        rows += bench_model(
            "tiny", tiny, tiny_model.KNOWN_STATES[2], tiny_model.KNOWN_INSTRUCTION, args.repeats
        )
    if not args.no_default and default_model.is_installed():
        loaded = default_model.load_default(device="cpu")
        buffer = (ROOT / "examples" / "running_mean.py").read_text()
        rows += bench_model("default", loaded, buffer, None, args.repeats)
        if not args.no_dtype:
            dtypes = dtype_rows(
                default_model.base_dir(), default_model.adapter_dir(), [*DTYPE_BUFFERS, buffer], 40
            )

    print(
        f"\nFirst validated suggestion, max_new_tokens=64, {args.repeats} runs, {args.threads} threads (seconds)"
    )
    print(f"{'model':8} {'k':>2} {'cache':5} {'p50':>7} {'p95':>7}")
    for _, name, k, cache, p50, p95 in (r for r in rows if r[0] == "suggest"):
        print(f"{name:8} {k:>2} {cache:5} {p50:7.3f} {p95:7.3f}")
    print("\nDecode loop vs model.generate, same prompt, sampled T=0.8 top-p 0.95, up to the next <|diff|>")
    print(
        f"{'model':8} {'k':>2} {'cache':5} {'ours s':>7} {'HF s':>7} {'ours tok/s':>10} {'HF tok/s':>9} {'speed-up':>8}"
    )
    for _, name, k, cache, ours_s, hf_s, rate, hf_rate in (r for r in rows if r[0] == "decode"):
        print(
            f"{name:8} {k:>2} {cache:5} {ours_s:7.3f} {hf_s:7.3f} {rate:10.1f} {hf_rate:9.1f} {rate / hf_rate:7.2f}x"
        )

    if dtypes:
        print_dtype_rows(dtypes)


if __name__ == "__main__":
    main()
