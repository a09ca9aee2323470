"""How many tokens the draft model should propose: decode speed of a target with a smaller draft model at several
draft lengths, against plain decoding in the same run, and where the time goes (drafting against verifying).

    python benchmarks/draft_length.py [--model qwen2.5-coder-1.5b-instruct] [--draft-model qwen2.5-coder-0.5b-instruct]
                                      [--lengths 0,2,4,8] [--prompts 3] [--threads 2]

Length 0 is plain decoding. Greedy, 128 new tokens, eos only, int8 both models, the rewrite-like prompts of
``speculative_decoding.py``; the draft model drafts alone (no prompt lookup). Columns: decode tokens/s, the share of
draft tokens kept, and the seconds spent in the draft model and in the target's verification passes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--draft-model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--lengths", default="0,2,4,8")
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from speculative_decoding import strategy_prompts

    from model_runtime import draft_model
    from model_runtime.generation import generate
    from model_runtime.loading import load_model
    from model_runtime.threads import limit_torch_threads

    threads = limit_torch_threads(args.threads)
    target = load_model(args.model, device="cpu", quantize="int8")
    draft = load_model(args.draft_model, device="cpu", quantize="int8")
    prompts = strategy_prompts(target, "rewrite", args.prompts)
    spent = {"draft": 0.0}
    plain_draft = draft_model.ModelDraft.get_candidates

    def timed(self, ids):
        started = time.perf_counter()
        try:
            return plain_draft(self, ids)
        finally:
            spent["draft"] += time.perf_counter() - started

    draft_model.ModelDraft.get_candidates = timed
    print(f"\n{args.model} drafted by {args.draft_model}, {len(prompts)} prompts, {threads} threads\n")
    print(f"{'draft length':>12} {'decode tok/s':>12} {'kept':>6} {'drafting s':>10} {'verifying s':>11}")
    for length in (int(n) for n in args.lengths.split(",")):
        spent["draft"] = 0.0
        seconds = tokens = drafted = kept = 0.0
        for prompt in prompts:
            target.prompt_cache = draft.prompt_cache = None
            with draft_model.draft_length(length or 1):
                result = generate(
                    target,
                    prompt,
                    temperature=0,
                    max_new_tokens=128,
                    stop="eos",
                    speculate=10 if length else 0,
                    draft=draft if length else None,
                    draft_after_lookup=False,
                )
            timings = result.timings
            seconds += timings.total_s - timings.first_token_s
            tokens += timings.new_tokens - 1
            drafted += timings.drafted_tokens
            kept += timings.accepted_draft_tokens
        share = f"{kept / drafted:.0%}" if drafted else "-"
        print(
            f"{length:>12} {tokens / seconds:>12.1f} {share:>6} {spent['draft']:>10.1f} "
            f"{seconds - spent['draft']:>11.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
