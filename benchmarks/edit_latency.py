"""Time from a one-line edit to the first validated suggestion, in a 500-line file, with the document's prompt cache
warm from the previous suggestion (the usual editor case) and cold (cache empty, model loaded).

    python benchmarks/edit_latency.py [--model default] [--strategies rewrite,fim] [--edits 12] [--k 1]
                                      [--temperature 0.8] [--modes batch,greedy-first] [--threads 2]
                                      [--file PATH] [--json OUT]

The file is the standard library's ``textwrap.py`` (491 lines) unless ``--file`` names another. For each of
``--edits`` cursor lines spread over its function bodies, the two lines there are taken out (the user is about to
type them); one unmeasured suggestion at that spot fills the document's prompt cache (the previous suggestion);
then the first of the two lines is typed back (the one-line edit) and the suggestion for the next line is timed,
through ``suggestions.suggest`` exactly as the server calls it (its strategy, window, validation, ``cache_key`` =
the document). "cold" empties the prompt cache before the timed call. A call counts as answered when it returns at
least one validated suggestion; the time is the whole call either way (the editor waits for the call).

Two ways to ask for ``--k`` candidates, compared on the same edits in the same run (``--modes``): ``batch``, all k
sampled at ``--temperature`` in one call (the server before ``greedyFirst``), and ``greedy-first``, as the server
asks now (``model_runtime.staged``): one greedy candidate first, answered at once, then the other k - 1 sampled.
"answer" is the time until the request is answered (greedy-first: the first pass), "offered" how many requests
had a validated suggestion then; "all" is the time until all k candidates are in, and "offered" after it.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

URI = "file:///bench/edited.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def edit_points(lines: list[str], count: int) -> list[int]:
    """Up to ``count`` lines, evenly spread, inside function bodies, whose removal together with the next line
    leaves a file that parses, and the file with only the next line removed too (the buffers before and after the
    edit are ones the runtime answers for; a buffer that does not parse gets no suggestion at once)."""
    from model_runtime.repair import parses

    tree = ast.parse("\n".join(lines))
    bodies = [
        range(node.body[0].lineno - 1, node.end_lineno - 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 4
    ]
    candidates = sorted(
        {
            i
            for body in bodies
            for i in body
            if lines[i].strip()
            and lines[i + 1].strip()
            and not lines[i].lstrip().startswith(("#", '"', "'"))
            and parses("\n".join(lines[:i] + lines[i + 2 :]))
            and parses("\n".join(lines[: i + 1] + lines[i + 2 :]))
        }
    )
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / count
    return [candidates[int(j * step)] for j in range(count)]


def measure(
    loaded, lines: list[str], point: int, strategy: str, calls: list[dict], warm: bool
) -> tuple[list[float], list[bool], dict]:
    """After typing ``lines[point]`` back: the seconds of each call of the request (the first is the time to its
    answer), whether a validated suggestion had been offered after each, and what the request gave in the end:
    counts of why candidates were dropped, tokens decoded, and whether the first suggestion's first new line is the
    line the file really has next."""
    from model_runtime.staged import merged
    from model_runtime.suggestions import suggest

    before = lines[:point] + lines[point + 2 :]
    after = lines[: point + 1] + lines[point + 2 :]
    options = dict(max_new_tokens=96, strategy=strategy, cache_key=URI, seed=0)
    loaded.prompt_cache = None
    suggest(loaded, "\n".join(before), line=point, **options, **calls[0])  # the previous suggestion
    if not warm:
        loaded.prompt_cache = None
    seconds, offered, result, tokens = [], [], None, 0
    for call in calls:
        started = time.perf_counter()
        more = suggest(loaded, "\n".join(after), line=point + 1, **options, **call)
        seconds.append(time.perf_counter() - started)
        tokens += more.timings.new_tokens if more.timings else 0
        result = more if result is None else merged(result, more)
        offered.append(bool(result.suggestions))
    top = result.suggestions[0] if result.suggestions else None
    first = top.placements[0].lines[0].strip() if top and top.placements and top.placements[0].lines else None
    return (
        seconds,
        offered,
        {
            "candidates": len(result.suggestions),
            "next_line_right": first == lines[point + 1].strip(),
            "new_tokens": tokens,
            "non_insertions": result.non_insertions,
            "dropped_invalid": result.dropped_invalid,
            "dropped_malformed": result.dropped_malformed,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a registry name or a model path")
    parser.add_argument("--quantize", default=None, help="none or int8; default: as the editor loads it")
    parser.add_argument("--strategies", default="rewrite,fim")
    parser.add_argument("--edits", type=int, default=12)
    parser.add_argument(
        "--k", type=int, default=1, help="candidates per request (the server's editseq.k is 3)"
    )
    parser.add_argument(
        "--temperature", type=float, default=0.8, help="of the sampled candidates (the server's)"
    )
    parser.add_argument(
        "--modes",
        default="batch,greedy-first",
        help="batch: all k in one call; greedy-first: the server's way",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--file", default=textwrap.__file__)
    parser.add_argument("--json", type=Path, default=None, help="write every timed call here")
    args = parser.parse_args()

    from model_runtime.loading import load_model
    from model_runtime.staged import passes
    from model_runtime.threads import limit_torch_threads

    threads = limit_torch_threads(args.threads)
    started = time.perf_counter()
    loaded = load_model(args.model, device="cpu", quantize=args.quantize)
    load_s = time.perf_counter() - started
    lines = Path(args.file).read_text(encoding="utf-8").split("\n")
    points = edit_points(lines, args.edits)
    print(
        f"\n{loaded.name or loaded.source} ({loaded.quantization}), {threads} threads, k = {args.k} "
        f"(temperature {args.temperature}), "
        f"{len(points)} one-line edits in {Path(args.file).name} ({len(lines)} lines); loaded in {load_s:.1f} s\n",
        flush=True,
    )
    head = (
        f"{'strategy':<9} {'mode':<12} {'cache':<5} {'answer p50':>10} {'p95':>6} {'mean':>6} {'offered':>8} "
        f"{'all p50':>8} {'p95':>6} {'offered':>8} {'cands':>5}"
    )
    rows, raw = [], []
    for strategy in args.strategies.split(","):
        for mode in args.modes.split(","):
            calls = passes(args.k, args.temperature, greedy_first=mode == "greedy-first")
            for warm in (True, False):
                firsts, alls, answered, in_the_end, candidates = [], [], 0, 0, 0
                for point in points:
                    seconds, offered, what = measure(loaded, lines, point, strategy, calls, warm)
                    firsts.append(seconds[0])
                    alls.append(sum(seconds))
                    answered += offered[0]
                    in_the_end += offered[-1]
                    candidates += what["candidates"]
                    raw.append(
                        dict(strategy=strategy, mode=mode, k=args.k, temperature=args.temperature, warm=warm,
                             line=point, seconds=seconds[0], pass_seconds=seconds, offered=offered[0],
                             offered_in_the_end=offered[-1], **what)
                    )  # fmt: skip
                n = len(points)
                rows.append(
                    f"{strategy:<9} {mode:<12} {'warm' if warm else 'cold':<5} {percentile(firsts, 0.5):>10.2f} "
                    f"{percentile(firsts, 0.95):>6.2f} {statistics.mean(firsts):>6.2f} {answered:>4}/{n:<3} "
                    f"{percentile(alls, 0.5):>8.2f} {percentile(alls, 0.95):>6.2f} {in_the_end:>4}/{n:<3} "
                    f"{candidates / n:>5.1f}"
                )
                print(f"  {strategy} {mode} {'warm' if warm else 'cold'}: done", flush=True)
    print("\n" + head + "\n" + "-" * len(head) + "\n" + "\n".join(rows))
    if args.json:
        args.json.write_text("\n".join(json.dumps(row) for row in raw) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
