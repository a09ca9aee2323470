"""How long validating k candidate edits takes: full pyflakes per candidate, incremental, and incremental with the
document's own linter kept from the previous version (as the language server does).

    python benchmarks/validation_latency.py [--runs 30]

``model_runtime.suggestions.validate`` is what runs after the model has sampled: every candidate edit is applied
to the buffer and linted (no new pyflakes error), in the model's thread, holding the GIL, so in the language server
it delays diagnostics and every other request while it runs. Three ways run here in the same process on the same
buffers and candidates: ``BufferLint(buffer, incremental=False)`` (a full check of the buffer and of every
candidate, as before), ``BufferLint(buffer)`` (one full check of the buffer, then each candidate incrementally),
and ``BufferLint(buffer, linter=kept)`` where ``kept`` last saw the previous version's candidates (run r's buffer
is the file after r one-line edits, as in ``benchmarks/lsp_latency.py``). Candidates are real edit texts
(``diff_states``): two-line insertions into function bodies, one of every three adding an undefined name, so both
verdicts occur. p50 / p95 in ms of the whole ``validate`` call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.diagnostics_breakdown import timed  # noqa: E402
from benchmarks.lsp_latency import BIG_FILE  # noqa: E402
from model_runtime.candidate_checks import BufferLint  # noqa: E402
from model_runtime.edits import diff_states  # noqa: E402
from model_runtime.incremental_lint import IncrementalLint  # noqa: E402
from model_runtime.suggestions import validate  # noqa: E402


def buffers(lines: int, runs: int) -> list[str]:
    """Run r's buffer: the first ``lines`` lines of the 5,000-line file after r + 1 one-line edits (the edits
    of ``benchmarks/lsp_latency.py``)."""
    base = BIG_FILE.split("\n")[:lines]
    texts = []
    for run in range(runs):
        edited = list(base)
        for i in range(run + 1):
            edited.insert(2 + 4 * i, f"    z{i} = y")
        texts.append("\n".join(edited))
    return texts


def candidates(buffer: str, run: int, k: int) -> list[tuple[str, float]]:
    """``k`` model-style outputs for ``buffer``: each inserts two lines into a different function's body."""
    lines = buffer.split("\n")
    returns = [i for i, line in enumerate(lines) if line == "    return y"]
    outputs = []
    for j in range(k):
        at = returns[(run * k + j) * 7 % len(returns)]  # before a function's return
        new = "undefined_name" if j % 3 == 2 else "y"
        program = "\n".join([*lines[:at], f"    w{j} = {new} * 2", f"    y = w{j}", *lines[at:]])
        outputs.append((diff_states(buffer, program), -0.1 * j))
    return outputs


def measure(texts: list[str], k: int, way: str) -> tuple[float, float]:
    cases = [candidates(text, run, k) for run, text in enumerate(texts)]
    kept = IncrementalLint()
    kept.check(texts[0])

    def linted(run: int) -> BufferLint:
        if way == "full":
            return BufferLint(texts[run], incremental=False)
        return BufferLint(texts[run], linter=kept if way == "kept" else None)

    return timed(lambda r: validate(texts[r], cases[r], linted=linted(r)), len(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    # The verdicts must agree before any time counts.
    for text in (*buffers(200, 1), *buffers(5000, 1)):
        outputs = candidates(text, 0, 4)
        full = validate(text, outputs, linted=BufferLint(text, incremental=False))
        fast = validate(text, outputs, linted=BufferLint(text))
        assert [s.program for s in full.suggestions] == [s.program for s in fast.suggestions]
        assert full.dropped_invalid == fast.dropped_invalid == 1

    print(f"\nvalidate(): {runs} runs each, python {sys.version.split()[0]}, p50 / p95 ms\n")
    head = (
        f"{'buffer':<12} {'k':>2} {'full':>13} {'incremental':>13} {'kept linter':>13} {'speed-up p50':>13}"
    )
    print(head)
    print("-" * len(head))
    for lines in (200, 5000):
        texts = buffers(lines, runs)
        for k in (1, 3, 4):
            full, fast, kept = (measure(texts, k, way) for way in ("full", "fresh", "kept"))
            cells = " ".join(f"{p50:>6.1f} /{p95:>5.0f}" for p50, p95 in (full, fast, kept))
            print(f"{lines:>6} lines {k:>2} {cells} {full[0] / fast[0]:>5.1f}x /{full[0] / kept[0]:>5.1f}x")


if __name__ == "__main__":
    main()
