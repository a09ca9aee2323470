"""The default model's rule, measured: how long each model takes to its first validated suggestion for the demo
file, model already loaded, and whether what it offers is right.

    python benchmarks/demo_latency.py [--models qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct]
                                      [--threads 2] [--seeds 0,1,2,3,4] [--budget-s 15] [--json OUT]
                                      [--files examples/running_mean_stub.py,OTHER.py]

For each model (loaded as the editor loads it: the registry's CPU quantisation) and ``examples/running_mean_stub.py``
(the signature and docstring of ``running_mean``, cursor at the end), two requests, each on a cold buffer (the
document's prompt cache cleared, as for a file just opened):

- ``greedy``: k = 1 at temperature 0, the server's first answer (``editseq.greedyFirst``);
- ``demo``: ``make demo``'s request, k = 4 at temperature 0.8 with each of ``--seeds``.

A suggestion is right when the program it leaves (all its steps applied) passes a few asserts on ``running_mean``,
run in the evaluation sandbox (generated code is never run outside it). The table gives the median and worst
seconds per request, how many requests offered anything, and how many offered a right suggestion first and at
all; "within budget" compares the worst request's time with ``--budget-s``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO_FILE = ROOT / "examples" / "running_mean_stub.py"
CHECKS = """
assert running_mean([1, 2, 3, 4]) == [1.0, 1.5, 2.0, 2.5], running_mean([1, 2, 3, 4])
assert running_mean([]) == []
assert running_mean([5]) == [5.0]
assert running_mean([2, -2, 3]) == [2.0, 0.0, 1.0]
"""


def is_right(program: str) -> bool:
    """Whether ``program`` defines a correct ``running_mean`` (run in the sandbox)."""
    from training.evaluation.sandbox import Limits, run_program

    return run_program(program + "\n" + CHECKS, Limits(timeout_s=5.0)).passed


def one_request(
    loaded, buffer: str, k: int, temperature: float, seed: int | None, strategy: str | None = None
) -> dict:
    """One cold request: seconds, suggestions offered, which are right."""
    from model_runtime.suggestions import suggest

    loaded.prompt_cache = None
    started = time.perf_counter()
    result = suggest(
        loaded, buffer, k=k, temperature=temperature, seed=seed, max_new_tokens=128, strategy=strategy
    )
    seconds = time.perf_counter() - started
    right = [is_right(s.final_program or s.program) for s in result.suggestions]
    return {
        "k": k,
        "temperature": temperature,
        "seed": seed,
        "seconds": round(seconds, 3),
        "offered": len(result.suggestions),
        "right": right,
        "programs": [s.final_program or s.program for s in result.suggestions],
    }


def measure(name: str, seeds: list[int], files: list[Path], strategy: str | None = None) -> list[dict]:
    """Every request for one model, on each file (``strategy``: None = the model's own)."""
    from model_runtime.generation import generate
    from model_runtime.loading import load_model

    loaded = load_model(name, device="cpu")
    generate(
        loaded, "def add(a, b):\n", temperature=0, max_new_tokens=4, speculate=0
    )  # warm-up, another prompt
    rows = []
    for path in files:
        buffer = path.read_text(encoding="utf-8")
        common = {"model": name if strategy is None else f"{name} ({strategy})", "file": path.name}
        rows.append({**common, "request": "greedy", **one_request(loaded, buffer, 1, 0.0, None, strategy)})
        for seed in seeds:
            rows.append({**common, "request": "demo", **one_request(loaded, buffer, 4, 0.8, seed, strategy)})
            print(
                f"{name} {path.name} seed {seed}: {rows[-1]['seconds']:.1f} s, {rows[-1]['right']}",
                file=sys.stderr,
            )
    del loaded
    gc.collect()
    return rows


def summary(rows: list[dict], budget_s: float) -> list[str]:
    """The table: one line per (model, request kind)."""
    lines = [
        "| model | file | request | requests | p50 s | worst s | offered any | right first | right at all | within "
        f"{budget_s:g} s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["model"], row.get("file", DEMO_FILE.name), row["request"]), []).append(row)
    for (model, file, request), group in groups.items():
        seconds = [r["seconds"] for r in group]
        lines.append(
            f"| {model} | {file} | {request} | {len(group)} | {statistics.median(seconds):.1f} | {max(seconds):.1f} | "
            f"{sum(r['offered'] > 0 for r in group)} | {sum(bool(r['right']) and r['right'][0] for r in group)} | "
            f"{sum(any(r['right']) for r in group)} | {'yes' if max(seconds) <= budget_s else 'no'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--seeds", default="0,1,2,3,4", help="comma-separated seeds for the k = 4 demo request"
    )
    parser.add_argument("--budget-s", type=float, default=15.0, help="the default rule's latency budget")
    parser.add_argument("--json", type=Path, help="write every request's row here")
    parser.add_argument("--strategy", help="lintseq, fim, rewrite or continue (default: each model's own)")
    parser.add_argument(
        "--files",
        default=str(DEMO_FILE),
        help="comma-separated files, each asked at its end (default: the demo's)",
    )
    args = parser.parse_args()

    from model_runtime.registry import catalog as registry
    from model_runtime.registry.listing import rows as listed
    from model_runtime.threads import limit_torch_threads

    limit_torch_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    installed = {row.name for row in listed(registry.load(), registry.measured()) if row.installed}
    rows = []
    for name in args.models.split(","):
        if name not in installed:
            print(f"{name}: not installed (editseq model install {name}); skipped", file=sys.stderr)
            continue
        rows += measure(name, seeds, [Path(f) for f in args.files.split(",") if f], args.strategy)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{args.threads} thread(s), cold buffer, model loaded")
    print("\n".join(summary(rows, args.budget_s)))


if __name__ == "__main__":
    main()
