"""Where the time of one diagnostics update goes, stage by stage, for a one-line change in a 5,000-line file.

    python benchmarks/diagnostics_breakdown.py [--runs 30]

The same edits as benchmarks/lsp_latency.py (which times the whole round trip through a real client and server).
Each stage is timed on its own in this process, p50 / p95 in ms: the full check as the server did it before
(parse, pyflakes, diagnostics), the incremental check (splice-parse, pyflakes with replay), the collector policy of
the lint worker, and the hop to a worker process and back with the whole text.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.lsp_latency import edited  # noqa: E402
from lsp_server.diagnostics import frozen_after, quiet_worker, to_diagnostic  # noqa: E402
from model_runtime.incremental_lint import IncrementalLint  # noqa: E402
from model_runtime.lint import check, check_tree, parse  # noqa: E402


def timed(
    fn: Callable[[object], object], runs: int, setup: Callable[[int], object] = int
) -> tuple[float, float]:
    """p50 and p95 ms of ``fn(setup(run))``, the setup untimed (and freed before the next run)."""
    times = []
    for run in range(runs):
        value = setup(run)
        started = time.perf_counter()
        fn(value)
        times.append((time.perf_counter() - started) * 1000)
        del value
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def text_length(text: str) -> int:
    return len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    texts = [edited(run)[0] for run in range(runs)]
    findings = [check(text) for text in texts]
    rows = [
        ("full: parse (ast)", timed(lambda r: parse(texts[r]), runs)),
        ("full: pyflakes on the tree", timed(check_tree, runs, setup=lambda r: parse(texts[r]))),
        ("full: findings -> LSP diagnostics", timed(lambda r: to_lsp(texts[r], findings[r]), runs)),
        ("full: all three (the server before)", timed(lambda r: to_lsp(texts[r], check(texts[r])), runs)),
        ("full: all three, collector off in the check", timed(lambda r: uncollected(full, texts[r]), runs)),
    ]

    for label, frozen in (("collector on", False), ("collector off in the check", True)):
        lint = IncrementalLint()
        lint.check(edited(0)[0])
        incremental = (
            (lambda r, lint=lint: uncollected(lint.check, texts[r]))
            if frozen
            else (lambda r, lint=lint: lint.check(texts[r]))
        )
        rows.append((f"incremental check, {label}", timed(incremental, runs)))
        rows.append(("  lines parsed / units replayed (last run)", (lint.last_parsed, lint.last_hits)))
    gc.unfreeze()

    with ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=quiet_worker
    ) as pool:
        pool.submit(text_length, "").result()
        rows.append(
            (
                "worker process round trip, whole text",
                timed(lambda r: pool.submit(text_length, texts[r]).result(), runs),
            )
        )

    print(f"\n{runs} one-line edits of a 5,000-line file   python {sys.version.split()[0]}\n")
    print(f"{'stage':<46} {'p50':>8} {'p95':>8}")
    print("-" * 64)
    for label, (p50, p95) in rows:
        print(f"{label:<46} {p50:>8.1f} {p95:>8.1f}")


def full(text: str) -> list:
    return to_lsp(text, check(text))


def uncollected(fn: Callable[[str], object], text: str) -> object:
    """``fn(text)`` under the lint worker's collector policy."""
    with frozen_after():
        return fn(text)


def to_lsp(text: str, found: list) -> list:
    lines = text.split("\n")
    return [to_diagnostic(f, lines) for f in found]


if __name__ == "__main__":
    main()
