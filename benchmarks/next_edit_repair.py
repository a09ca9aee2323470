"""Would position repair help next-edit suggestions? The same generations validated as the runtime does (the
baseline) and with misplaced edits moved to the nearest line where the buffer parses (``model_runtime.repair``).

    python benchmarks/next_edit_repair.py [--programs 12] [--corpus runs/data/stdlib.programs.jsonl]

The cases are those of ``editseq eval next-edit`` (held-out programs of the corpus's valid split, 3 steps each),
strategy whole+history, k = 4, T = 0.8, seed 0. Needs the LintSeq adapter model (`editseq model install
editseq-smollm2-135m-lintseq`). Columns: top suggestion is the true next edit, line F1 of the top suggestion, the
share of the k samples that are valid, and cases with any suggestion.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import model_runtime.suggestions as suggestions  # noqa: E402
from model_runtime import lint  # noqa: E402
from model_runtime.loading import ModelLoadError, load_model  # noqa: E402
from training.evaluation.next_edit import added_lines, cases_for, line_f1, load_programs, same_program  # noqa: E402

K = 4
ADAPTER_MODEL = "editseq-smollm2-135m-lintseq"  # the registry entry: SmolLM2-135M + the LintSeq adapter


def repaired(buffer: str, outputs: list[tuple[str, float]]) -> list[tuple[float, str, str]]:
    """(score, edit text, program) of the outputs that are valid once a misplaced edit is moved, best first."""
    valid = []
    for text, score in outputs:
        placed = suggestions.place_step(buffer, text, repair=True)
        if placed is not None and not lint.new_errors(buffer, placed[2]):
            valid.append((score, placed[0].render(), placed[2]))
    return sorted(valid, key=lambda v: -v[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=12)
    parser.add_argument("--corpus", type=Path, default=ROOT / "runs" / "data" / "stdlib.programs.jsonl")
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit("needs the corpus (models/README.md)")
    try:
        loaded = load_model(ADAPTER_MODEL, device="cpu")
    except ModelLoadError as exc:
        sys.exit(str(exc))
    programs = load_programs([args.corpus])[: args.programs]
    cases = [
        c for pid, instruction, program in programs for c in cases_for(pid, instruction, program, max_steps=3)
    ]
    outputs: list[tuple[str, float]] = []
    validate = suggestions.validate

    def keep_outputs(buffer, candidates, *rest, **options):  # the generations, as validate receives them
        outputs[:] = candidates
        return validate(buffer, candidates, *rest, **options)

    suggestions.validate = keep_outputs
    rows: dict[str, list[tuple[bool, float, int]]] = {"as stated (baseline)": [], "with position repair": []}
    for case in cases:
        result = suggestions.suggest(
            loaded, case.buffer, instruction=case.instruction, history=case.history[-3:], k=K, seed=0
        )
        top = result.suggestions[0] if result.suggestions else None
        rows["as stated (baseline)"].append(
            (
                bool(top and same_program(top.program, case.target)),
                line_f1(added_lines(top.edit_text), added_lines(case.target_edit)) if top else 0.0,
                len(result.suggestions),
            )
        )
        moved = repaired(case.buffer, outputs)
        best = moved[0] if moved else None
        rows["with position repair"].append(
            (
                bool(best and same_program(best[2], case.target)),
                line_f1(added_lines(best[1]), added_lines(case.target_edit)) if best else 0.0,
                len(moved),
            )
        )
    print(f"\n{len(cases)} next-edit cases, whole+history, k = {K}\n")
    head = f"{'validation':<22} {'exact':>6} {'line F1':>8} {'valid':>6} {'any':>5}"
    print(head)
    print("-" * len(head))
    for label, scored in rows.items():
        n = len(scored)
        exact = sum(s[0] for s in scored) / n
        f1 = sum(s[1] for s in scored) / n
        valid = sum(s[2] for s in scored) / (n * K)
        anyone = sum(s[2] > 0 for s in scored) / n
        print(f"{label:<22} {exact:>6.1%} {f1:>8.3f} {valid:>6.1%} {anyone:>5.0%}")


if __name__ == "__main__":
    main()
