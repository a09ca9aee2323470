"""HumanEval sampling time per problem with problems sampled one at a time (the baseline, what every run did
before) against several problems per batch (``editseq eval humaneval --prompts-per-batch``), same model, problems
and settings, in one run.

    python benchmarks/eval_prompt_batch.py [--problems 4] [--together 1,4] [--rounds 2] [--max-new-tokens 128]

The model is the default base with the EditSeq adapter, prompted as row (2) of docs/evaluation.md (lintseq, chat
template), n = 10 samples per problem at temperature 0.8, top-p 0.95, on whatever device ``auto`` picks (a GPU if
there is one). Each round runs every setting once, in the order given, so a slow moment hurts all of them alike.
Needs the default model (``editseq model install``).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_runtime.default_model import is_installed, load_default  # noqa: E402
from training.datasets import chat_prompt  # noqa: E402
from training.evaluation.humaneval import build_prompt, load_problems  # noqa: E402
from training.evaluation.sampling import sample_batch  # noqa: E402


def seconds_per_problem(loaded, prompts: list[str], together: int, n: int, max_new_tokens: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(prompts), together):
        sample_batch(loaded, prompts[start : start + together], n, max_new_tokens=max_new_tokens, seed=start)
    return (time.perf_counter() - started) / len(prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=4, help="The first N HumanEval problems.")
    parser.add_argument("--together", default="1,4", help="Problems per batch to compare; 1 is the baseline.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()
    if not is_installed():
        sys.exit("the default model is not installed: run `editseq model install`")
    loaded = load_default()
    chat = functools.partial(chat_prompt, loaded.tokenizer)
    prompts = [build_prompt(p, "lintseq", chat) for p in load_problems(limit=args.problems)]
    settings = [int(t) for t in args.together.split(",")]
    times: dict[int, list[float]] = {t: [] for t in settings}
    for _ in range(args.rounds):
        for together in settings:
            times[together].append(
                seconds_per_problem(loaded, prompts, together, args.n, args.max_new_tokens)
            )
    base = statistics.median(times[settings[0]])
    print(
        f"device {loaded.device}; {args.problems} problems, n = {args.n}, max {args.max_new_tokens} new tokens"
    )
    print("| problems per batch | s per problem (each round) | median | vs first row |")
    print("|---|---|---|---|")
    for together in settings:
        runs = ", ".join(f"{t:.1f}" for t in times[together])
        median = statistics.median(times[together])
        print(f"| {together} | {runs} | {median:.1f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
