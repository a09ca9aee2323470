"""Does a LintSeq adapter write the edit separator? The teacher-forced log-probability of ``<|diff|>`` where the
held-out training text has it, against every other response token, for the base and each adapter in one run.

    python benchmarks/separator_logprob.py [--data runs/data/sc.lintseq.jsonl] [--records 6]
                                           [--model qwen2.5-coder-0.5b-instruct] [--threads 2]
                                           [--adapters DIR,DIR] [--json OUT]

Each model reads the first ``--records`` records of the validation split in the text format it was trained with
(``model_runtime.loading.prompt_format``; the training text: instruction, ``<|diff|>``, the edits, eos) and scores the
next token at every response position (``training.evaluation.separator``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "data" / "sc.lintseq.jsonl")
    parser.add_argument("--records", type=int, default=6, help="validation records to score")
    parser.add_argument(
        "--model", default="qwen2.5-coder-0.5b-instruct", help="base: registry name or directory"
    )
    parser.add_argument(
        "--adapters", default="", help="comma-separated adapter directories (the base is row one)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="append one JSON line per model here")
    args = parser.parse_args(argv)

    import torch

    from model_runtime.loading import clear_cache, load_model, prompt_format
    from training.datasets import read_records
    from training.evaluation.separator import separator_logprob

    torch.set_num_threads(args.threads)
    records = [r for r in read_records(args.data) if r["kind"] == "lintseq" and r["split"] == "valid"]
    if not records:
        parser.error(f"{args.data} holds no LintSeq records of the validation split")
    records = records[: args.records]
    rows = []
    for adapter in [None, *filter(None, args.adapters.split(","))]:
        clear_cache()
        loaded = load_model(args.model, adapter=adapter, quantize="none", reload=True)
        scores = separator_logprob(loaded, records, prompt_format(loaded.tokenizer, adapter))
        rows.append({"model": args.model, "adapter": adapter, "records": len(records), **scores})
    print("| model | separators | separator log-prob | other tokens | other log-prob |")
    print("|---|---|---|---|---|")
    for row in rows:
        name = row["model"] + (f" + {Path(row['adapter']).name}" if row["adapter"] else "")
        sep, oth = row["separator_logprob"], row["other_logprob"]
        print(
            f"| {name} | {row['separators']} | {'-' if sep is None else f'{sep:.2f}'} | {row['other_tokens']} "
            f"| {'-' if oth is None else f'{oth:.2f}'} |"
        )
    if args.json:
        with args.json.open("a") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
