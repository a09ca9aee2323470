"""Latency of the first validated suggestion (cold and warm, p50/p95, k=1 and k=4), and the decode loop of
``model_runtime.generation`` against plain ``model.generate`` on the same model and prompt.

    python benchmarks/suggest_latency.py [--repeats 5] [--models tiny,default] [--quantize none,int8]
                                         [--no-quality] [--threads 1]

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


def bench_model(
    name: str, loaded, buffer: str, instruction: str | None, repeats: int, baseline=None
) -> list[tuple]:
    """Suggest latency rows, and decode rows: ours against ``generate`` on this model and on ``baseline`` (the same
    model without quantisation; None when ``loaded`` is that model)."""
    from model_runtime.prompts import build_prompt
    from model_runtime.suggestions import head_for

    variant = f"{name}/{loaded.quantization}"
    rows = []
    for k in (1, 4):
        for warm in (False, True):
            times = time_suggest(loaded, buffer, instruction, k, repeats, warm)
            rows.append(
                (
                    "suggest",
                    variant,
                    k,
                    "warm" if warm else "cold",
                    percentile(times, 0.5),
                    percentile(times, 0.95),
                )
            )
    prompt = build_prompt(buffer, instruction=instruction, head=head_for(loaded)).text
    for k in (1, 4):
        same = [time_hf_generate(loaded, prompt, k, 64, seed) for seed in range(repeats)]
        base = (
            [time_hf_generate(baseline, prompt, k, 64, seed) for seed in range(repeats)] if baseline else same
        )
        time_ours(loaded, prompt, k, 64, 0, warm=True)  # fill the prompt cache
        for warm in (False, True):
            ours = [time_ours(loaded, prompt, k, 64, seed, warm) for seed in range(repeats)]
            rows.append(
                (
                    "decode",
                    variant,
                    k,
                    "warm" if warm else "cold",
                    *summary(ours),
                    *summary(same),
                    *summary(base),
                )
            )
    return rows


def summary(runs: list[tuple[float, int]]) -> tuple[float, float]:
    """Median seconds per call and generated tokens per second over all calls."""
    return statistics.median(s for s, _ in runs), sum(t for _, t in runs) / sum(s for s, _ in runs)


QUALITY_BUFFERS = (
    "",
    "def add(a, b):\n    return a + b\n",
    'import math\n\n\ndef area(r):\n    """Area of a circle of radius r."""\n',
    'def evens(xs):\n    """The even items of xs, in order."""\n    out = []\n',
)


def response_loss(loaded, records: list[dict]) -> float:
    """Mean loss per response token of LintSeq sequences (``prompts.lintseq_states``) of ``records``' programs."""
    import torch

    from model_runtime.edits import SEPARATOR, edits_from_states
    from model_runtime.prompts import lintseq_states
    from model_runtime.suggestions import head_for

    total = count = 0.0
    for record in records:
        head = head_for(loaded)(record["instruction"])
        edits = edits_from_states(["", *lintseq_states(record["response"])])
        response = SEPARATOR.join([*edits, "", ""]) + loaded.tokenizer.eos_token
        head_ids = loaded.tokenizer(head, add_special_tokens=False)["input_ids"]
        ids = loaded.tokenizer(head + response, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = loaded.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
        targets = torch.tensor(ids[1:])
        losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")[len(head_ids) - 1 :]
        total += float(losses.sum())
        count += len(losses)
    return total / count


def quality_rows(spec, adapter, buffers: list[str], records: list[dict], max_new_tokens: int) -> list[tuple]:
    """Per CPU variant (fp32, bf16, int8 weights): greedy tokens/s at batch 1 and 4, agreement of its greedy tokens
    with fp32's, and the response-token loss of LintSeq sequences of real programs."""
    from model_runtime.generation import generate
    from model_runtime.loading import load_model
    from model_runtime.prompts import build_prompt
    from model_runtime.suggestions import head_for

    outputs: dict[str, list[tuple[int, ...]]] = {}
    rows = []
    for variant, dtype, quantize in (
        ("fp32", "float32", "none"),
        ("bf16", "bfloat16", "none"),
        ("int8", "float32", "int8"),
    ):
        loaded = load_model(spec, device="cpu", dtype=dtype, adapter=adapter, quantize=quantize)
        prompts = [build_prompt(b, head=head_for(loaded)).text for b in buffers]
        rates = []
        for k in (1, 4):
            seconds = tokens = 0.0
            for prompt in prompts:
                loaded.prompt_cache = None
                result = generate(loaded, prompt, k=k, temperature=0, max_new_tokens=max_new_tokens)
                seconds += result.timings.total_s
                tokens += result.timings.new_tokens
                if k == 1:
                    outputs.setdefault(variant, []).append(result.candidates[0].token_ids)
            rates.append(tokens / seconds)
        prefix, exact = agreement(outputs[variant], outputs["fp32"])
        rows.append((variant, *rates, prefix, exact, len(buffers), response_loss(loaded, records)))
    return rows


def agreement(ours: list[tuple[int, ...]], reference: list[tuple[int, ...]]) -> tuple[float, int]:
    """Share of reference tokens before the first difference, and how many outputs are identical."""
    same_tokens = total = 0
    for a, b in zip(ours, reference, strict=True):
        same_tokens += next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        total += len(b)
    return same_tokens / total, sum(a == b for a, b in zip(ours, reference, strict=True))


def print_tables(rows: list[tuple], quality: list[tuple], repeats: int, threads: int) -> None:
    print(f"\nFirst validated suggestion, max_new_tokens=64, {repeats} runs, {threads} threads (seconds)")
    print(f"{'model/quant':14} {'k':>2} {'cache':5} {'p50':>7} {'p95':>7}")
    for _, name, k, cache, p50, p95 in (r for r in rows if r[0] == "suggest"):
        print(f"{name:14} {k:>2} {cache:5} {p50:7.3f} {p95:7.3f}")
    print(
        "\nDecode loop vs model.generate, same prompt, sampled T=0.8 top-p 0.95, up to the next <|diff|>, 64 tokens"
        "\nmax; 'gen' = generate on the same model and quantisation, 'gen fp32' = generate on the unquantised model"
        "\n(the baseline); tokens/s counts prefill time too"
    )
    print(
        f"{'model/quant':14} {'k':>2} {'cache':5} {'ours s':>7} {'gen s':>7} {'fp32 s':>7} {'ours tok/s':>10}"
        f" {'gen tok/s':>9} {'fp32 tok/s':>10} {'vs gen':>7} {'vs fp32':>7}"
    )
    for _, name, k, cache, ours_s, rate, gen_s, gen_rate, base_s, base_rate in (
        r for r in rows if r[0] == "decode"
    ):
        print(
            f"{name:14} {k:>2} {cache:5} {ours_s:7.3f} {gen_s:7.3f} {base_s:7.3f} {rate:10.1f} {gen_rate:9.1f}"
            f" {base_rate:10.1f} {rate / gen_rate:6.2f}x {rate / base_rate:6.2f}x"
        )
    if quality:
        print(
            "\nCPU variants of the default model: greedy tokens/s (cold prompt, 40 tokens), agreement of greedy"
        )
        print("output with fp32's, loss per response token on LintSeq sequences of examples/sample.jsonl")
        print(
            f"{'variant':8} {'k=1 tok/s':>9} {'k=4 tok/s':>9} {'=fp32 prefix':>12} {'exact':>7} {'loss':>7}"
        )
        for variant, rate1, rate4, prefix, exact, n, loss in quality:
            print(f"{variant:8} {rate1:9.1f} {rate4:9.1f} {prefix:11.0%} {exact:>3}/{n:<3} {loss:7.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="tiny,default", help="comma-separated: tiny, default")
    parser.add_argument("--quantize", default="none,int8", help="comma-separated: none, int8")
    parser.add_argument("--no-quality", action="store_true", help="skip the fp32/bf16/int8 quality table")
    args = parser.parse_args()

    import json

    import torch

    torch.set_num_threads(args.threads)
    from model_runtime import default_model
    from model_runtime.loading import load_model
    from tests.support import tiny_model

    models = args.models.split(",")
    variants = [v for v in args.quantize.split(",") if v]  # "" measures only the quality table
    rows, quality = [], []
    if "tiny" in models:
        with tempfile.TemporaryDirectory() as tmp:
            directory = tiny_model.build(Path(tmp) / "tiny")
            base = load_model(directory, device="cpu", quantize="none")
            for variant in variants:
                loaded = load_model(directory, device="cpu", quantize=variant)
                state, instruction = tiny_model.KNOWN_STATES[2], tiny_model.KNOWN_INSTRUCTION
                rows += bench_model(
                    "tiny", loaded, state, instruction, args.repeats, base if loaded is not base else None
                )
    if "default" in models and default_model.is_installed():
        base = default_model.load_default(device="cpu", quantize="none")
        buffer = (ROOT / "examples" / "running_mean.py").read_text()
        for variant in variants:
            loaded = default_model.load_default(device="cpu", quantize=variant)
            rows += bench_model(
                "default", loaded, buffer, None, args.repeats, base if loaded is not base else None
            )
        if not args.no_quality:
            records = [
                json.loads(line) for line in (ROOT / "examples" / "sample.jsonl").read_text().splitlines()
            ]
            quality = quality_rows(
                default_model.default_name(), None, [*QUALITY_BUFFERS, buffer], records, 40
            )
    print_tables(rows, quality, args.repeats, args.threads)


if __name__ == "__main__":
    main()
