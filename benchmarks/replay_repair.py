"""What position repair does to generated sequences in the editor: the steps of stored HumanEval samples replayed
as ``editseq generate`` and the language server replay them, without repair (the baseline) and with it.

    python benchmarks/replay_repair.py [RESULTS.jsonl]

Default input: the default adapter's HumanEval run (docs/evaluation.md, row 2), 1,640 sequences written from an
instruction. No model is needed. Columns: sequences whose every step adds no pyflakes error, steps that add none,
final programs that parse, steps moved, and the replay time. (Names HumanEval's preamble would define, such as
``List``, count as errors here, for both rows alike.)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_runtime.repair import parses  # noqa: E402
from model_runtime.suggestions import replay  # noqa: E402

DEFAULT = ROOT / "runs" / "eval" / "humaneval-editseq-lintseq-n10-t0.8.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        sys.exit(
            f"{path} does not exist: run the evaluation of docs/evaluation.md row (2) first, or name a file"
        )
    raws = [
        s["raw"]
        for line in path.read_text().splitlines()
        if line.strip()
        for s in json.loads(line)["samples"]
    ]
    print(f"\n{path.name}: {len(raws)} generated sequences\n")
    head = f"{'replay':<22} {'all steps valid':>16} {'steps valid':>12} {'program parses':>15} {'moved':>6} {'s':>5}"
    print(head)
    print("-" * len(head))
    for label, repair in (("as stated (baseline)", False), ("with position repair", True)):
        started = time.perf_counter()
        sequences = [replay("", raw, repair=repair) for raw in raws]
        seconds = time.perf_counter() - started
        steps = sum(len(c.step_valid) for c in sequences)
        all_valid = sum(c.valid and bool(c.steps) for c in sequences) / len(sequences)
        valid_steps = sum(sum(c.step_valid) for c in sequences) / max(steps, 1)
        parsing = sum(parses(c.program) for c in sequences) / len(sequences)
        moved = sum(c.moved for c in sequences)
        print(
            f"{label:<22} {all_valid:>16.1%} {valid_steps:>12.1%} {parsing:>15.1%} {moved:>6} {seconds:>5.1f}"
        )


if __name__ == "__main__":
    main()
