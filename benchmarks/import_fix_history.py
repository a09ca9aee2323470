"""What the import quick fix alone predicts of next edits from real history (no model).

    python benchmarks/import_fix_history.py [--git .] [--rev HEAD] [--limit 100]

The cases are those of ``editseq eval next-edit --git`` (the same builder, the same order and limit). For each case
and variant, ``auto_import.import_fix`` is asked for the import the buffer's own undefined names need (with the
repository's symbol index at the case's commit, ``git_symbols``, as the evaluation gives it); ``suggest``
ranks that fix first, above any model's edit, so where it is offered it *is* the top suggestion whatever the model.
The table gives, per variant, how many cases it is offered for, how many it predicts exactly, and its share of the
mean line F1 over all cases: a lower bound on any model's mean line F1 through ``suggest`` on the same cases, since
where the fix is offered it is the top suggestion, and elsewhere a case's line F1 is at least 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from model_runtime.auto_import import import_fix
    from training.evaluation.edit_metrics import exact, line_f1
    from training.evaluation.git_history import build_cases
    from training.evaluation.git_symbols import case_symbols

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--git", type=Path, default=ROOT, help="the repository whose history gives the cases")
    parser.add_argument("--rev", default="HEAD", help="the revision or range whose commits to read")
    parser.add_argument("--limit", type=int, default=100, help="at most this many cases, newest first")
    args = parser.parse_args()

    cases, _ = build_cases(args.git, args.rev, limit=args.limit)
    print(f"{len(cases)} cases from {args.git} at {args.rev}\n")
    print("| variant | cases | fix offered | exact | mean line F1 (fix only) |\n|---|---|---|---|---|")
    for variant in ("plain", "replay"):
        offered = hits = 0
        total = 0.0
        for case in cases:
            buffer = case.view(variant)[0]
            fixed = import_fix(buffer, **case_symbols(args.git, case, variant))
            if fixed is None:
                continue
            present = set(buffer.split("\n"))
            new = [line for line in fixed.split("\n") if line not in present]
            offered += 1
            hits += exact(new, list(case.truth))
            total += line_f1(new, list(case.truth))
            print(f"<!-- {variant} {case.key}: {new} / truth {list(case.truth)[:3]} -->")
        print(f"| {variant} | {len(cases)} | {offered} | {hits} | {total / max(1, len(cases)):.3f} |")


if __name__ == "__main__":
    main()
