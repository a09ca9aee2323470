"""How long validating k candidate edits takes, full pyflakes per candidate against the incremental check.

    python benchmarks/validation_latency.py [--runs 30]

``model_runtime.suggestions.validate`` is what runs after the model has sampled: every candidate edit is applied
to the buffer and linted (no new pyflakes error), in the model's thread, holding the GIL, so in the language server
it delays diagnostics and every other request while it runs. Both paths run here in the same process on the same
candidates: ``BufferLint(buffer, incremental=False)`` (a full check of the buffer and of every candidate, as before)
and ``BufferLint(buffer)`` (one full check of the buffer, then each candidate checked incrementally). Candidates are
real edit texts (``diff_states``): two-line insertions into function bodies, one of every three adding an
undefined name, so both verdicts occur. p50 / p95 in ms of the whole ``validate`` call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.diagnostics_breakdown import timed  # noqa: E402
from benchmarks.lsp_latency import BIG_FILE  # noqa: E402
from model_runtime.edits import diff_states  # noqa: E402
from model_runtime.suggestions import BufferLint, validate  # noqa: E402

SMALL_FILE = "\n".join(BIG_FILE.split("\n")[:200])  # 50 functions


def candidates(buffer: str, run: int, k: int) -> list[tuple[str, float]]:
    """``k`` model-style outputs for ``buffer``: each inserts two lines into a different function's body."""
    lines = buffer.split("\n")
    functions = len(lines) // 4
    outputs = []
    for j in range(k):
        at = 4 * ((run * k + j) * 7 % functions) + 2  # before the function's return
        new = "undefined_name" if j % 3 == 2 else "y"
        program = "\n".join([*lines[:at], f"    w{j} = {new} * 2", f"    y = w{j}", *lines[at:]])
        outputs.append((diff_states(buffer, program), -0.1 * j))
    return outputs


def measure(buffer: str, k: int, runs: int, incremental: bool) -> tuple[float, float]:
    cases = [candidates(buffer, run, k) for run in range(runs)]
    return timed(
        lambda r: validate(buffer, cases[r], linted=BufferLint(buffer, incremental=incremental)), runs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    # The verdicts must agree before any time counts.
    for buffer in (SMALL_FILE, BIG_FILE):
        outputs = candidates(buffer, 0, 4)
        full = validate(buffer, outputs, linted=BufferLint(buffer, incremental=False))
        fast = validate(buffer, outputs, linted=BufferLint(buffer))
        assert [s.program for s in full.suggestions] == [s.program for s in fast.suggestions]
        assert full.dropped_invalid == fast.dropped_invalid == 1

    print(f"\nvalidate(): {runs} runs each, python {sys.version.split()[0]}, ms\n")
    head = f"{'buffer':<12} {'k':>2} {'full p50':>9} {'full p95':>9} {'incr p50':>9} {'incr p95':>9} {'speed-up':>9}"
    print(head)
    print("-" * len(head))
    for name, buffer in (("200 lines", SMALL_FILE), ("5,000 lines", BIG_FILE)):
        for k in (1, 3, 4):
            full = measure(buffer, k, runs, incremental=False)
            fast = measure(buffer, k, runs, incremental=True)
            print(
                f"{name:<12} {k:>2} {full[0]:>9.1f} {full[1]:>9.1f} {fast[0]:>9.1f} {fast[1]:>9.1f}"
                f" {full[0] / fast[0]:>8.2f}x"
            )


if __name__ == "__main__":
    main()
