"""Does a LintSeq adapter write the edit separator? The teacher-forced log-probability of ``<|diff|>`` where the
held-out training text has it, against every other response token, for the base and each adapter in one run.

    python benchmarks/separator_logprob.py [--data runs/data/sc.lintseq.jsonl] [--records 6]
                                           [--model qwen2.5-coder-0.5b-instruct] [--threads 2]
                                           [--adapters DIR,DIR] [--json OUT]

Each model reads the first ``--records`` records of the validation split in the chat format it is served with
(the training text: instruction, ``<|diff|>``, the edits, eos) and scores the next token at every response position.
A model that has learned the format gives the separator a probability near that of the other tokens; the first
0.5B adapter gave it about e^-18 (its output row was not trained; see docs/finetuning.md) and never wrote one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def score(loaded, records: list[dict]) -> dict:
    """Mean log-probabilities of the separator and of the other response tokens, and how many of each."""
    import torch

    from training import datasets

    fmt = "chat" if getattr(loaded.tokenizer, "chat_template", None) else "plain"
    separator, other = [], []
    for record in records:
        example = datasets.tokenize(loaded.tokenizer, *datasets.texts(record, loaded.tokenizer, fmt))
        ids = torch.tensor([example.input_ids])
        with torch.inference_mode():
            logprobs = torch.log_softmax(loaded.model(ids).logits[0, :-1].float(), dim=-1)
        for position, (target, label) in enumerate(
            zip(example.input_ids[1:], example.labels[1:], strict=True)
        ):
            if label != -100:
                (separator if target == loaded.diff_token_id else other).append(
                    logprobs[position, target].item()
                )
    return {
        "separators": len(separator),
        "separator_logprob": statistics.mean(separator) if separator else None,
        "other_tokens": len(other),
        "other_logprob": statistics.mean(other) if other else None,
    }


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

    from model_runtime.loading import clear_cache, load_model
    from training.datasets import read_records

    torch.set_num_threads(args.threads)
    records = [r for r in read_records(args.data) if r["kind"] == "lintseq" and r["split"] == "valid"]
    if not records:
        parser.error(f"{args.data} holds no LintSeq records of the validation split")
    records = records[: args.records]
    rows = []
    for adapter in [None, *filter(None, args.adapters.split(","))]:
        clear_cache()
        loaded = load_model(args.model, adapter=adapter, quantize="none", reload=True)
        rows.append(
            {"model": args.model, "adapter": adapter, "records": len(records), **score(loaded, records)}
        )
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
