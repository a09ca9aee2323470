"""Time from a one-line edit to the first validated suggestion, in a 500-line file, with the document's prompt cache
warm from the previous suggestion (the usual editor case) and cold (cache empty, model loaded).

    python benchmarks/edit_latency.py [--model default] [--strategies rewrite,fim] [--edits 12] [--k 1]
                                      [--threads 2] [--file PATH] [--json OUT]

The file is the standard library's ``textwrap.py`` (491 lines) unless ``--file`` names another. For each of
``--edits`` cursor lines spread over its function bodies, the two lines there are taken out (the user is about to
type them); one unmeasured suggestion at that spot fills the document's prompt cache (the previous suggestion);
then the first of the two lines is typed back (the one-line edit) and the suggestion for the next line is timed,
through ``suggestions.suggest`` exactly as the server calls it (its strategy, window, validation, ``cache_key`` =
the document). "cold" empties the prompt cache before the timed call. A call counts as answered when it returns at
least one validated suggestion; the time is the whole call either way (the editor waits for the call).
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


def measure(loaded, lines: list[str], point: int, strategy: str, k: int, warm: bool) -> tuple[float, dict]:
    """Seconds of the suggestion after typing ``lines[point]`` back, and what it gave: offered or not, why not
    (counts), tokens decoded, and whether its first new line is the line the file really has next."""
    from model_runtime.suggestions import suggest

    before = lines[:point] + lines[point + 2 :]
    after = lines[: point + 1] + lines[point + 2 :]
    options = dict(k=k, temperature=0.0, max_new_tokens=96, strategy=strategy, cache_key=URI, seed=0)
    loaded.prompt_cache = None
    suggest(loaded, "\n".join(before), line=point, **options)  # the previous suggestion
    if not warm:
        loaded.prompt_cache = None
    started = time.perf_counter()
    result = suggest(loaded, "\n".join(after), line=point + 1, **options)
    seconds = time.perf_counter() - started
    top = result.suggestions[0] if result.suggestions else None
    first = top.placements[0].lines[0].strip() if top and top.placements and top.placements[0].lines else None
    return seconds, {
        "offered": top is not None,
        "next_line_right": first == lines[point + 1].strip(),
        "new_tokens": result.timings.new_tokens if result.timings else 0,
        "non_insertions": result.non_insertions,
        "dropped_invalid": result.dropped_invalid,
        "dropped_malformed": result.dropped_malformed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a registry name or a model path")
    parser.add_argument("--quantize", default=None, help="none or int8; default: as the editor loads it")
    parser.add_argument("--strategies", default="rewrite,fim")
    parser.add_argument("--edits", type=int, default=12)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--file", default=textwrap.__file__)
    parser.add_argument("--json", type=Path, default=None, help="write every timed call here")
    args = parser.parse_args()

    from model_runtime.loading import load_model
    from model_runtime.threads import limit_torch_threads

    threads = limit_torch_threads(args.threads)
    started = time.perf_counter()
    loaded = load_model(args.model, device="cpu", quantize=args.quantize)
    load_s = time.perf_counter() - started
    lines = Path(args.file).read_text(encoding="utf-8").split("\n")
    points = edit_points(lines, args.edits)
    print(
        f"\n{loaded.name or loaded.source} ({loaded.quantization}), {threads} threads, k = {args.k}, "
        f"{len(points)} one-line edits in {Path(args.file).name} ({len(lines)} lines); loaded in {load_s:.1f} s\n",
        flush=True,
    )
    head = f"{'strategy':<9} {'cache':<5} {'p50 s':>7} {'p95 s':>7} {'mean s':>7} {'answered':>9}"
    rows, raw = [], []
    for strategy in args.strategies.split(","):
        for warm in (True, False):
            times, answered = [], 0
            for point in points:
                seconds, what = measure(loaded, lines, point, strategy, args.k, warm)
                times.append(seconds)
                answered += what["offered"]
                raw.append(dict(strategy=strategy, warm=warm, line=point, seconds=seconds, **what))
            rows.append(
                f"{strategy:<9} {'warm' if warm else 'cold':<5} {percentile(times, 0.5):>7.2f} "
                f"{percentile(times, 0.95):>7.2f} {statistics.mean(times):>7.2f} {answered:>5}/{len(points)}"
            )
            print(f"  {strategy} {'warm' if warm else 'cold'}: done", flush=True)
    print("\n" + head + "\n" + "-" * len(head) + "\n" + "\n".join(rows))
    if args.json:
        args.json.write_text("\n".join(json.dumps(row) for row in raw) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
