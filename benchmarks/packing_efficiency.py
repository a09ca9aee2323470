"""How much of each training batch is real tokens: packing (training.datasets.pack) against padded batches.

Baselines in the same run: random batches padded to their longest example (what a plain collator does) and
length-bucketed batches (sorted by length, then padded). The compute a step costs grows with the padded size, so the
fill ratio is the share of training compute spent on real tokens.

    python benchmarks/packing_efficiency.py [RECORDS.jsonl] [--model DIR] [--format chat] [--limit 4000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.datasets import pack, read_records, tokenize_records  # noqa: E402


def padded_fill(lengths: list[int], batch: int) -> tuple[float, int]:
    """Share of real tokens when consecutive groups of ``batch`` examples are padded to their longest."""
    real = padded = 0
    for i in range(0, len(lengths), batch):
        group = lengths[i : i + batch]
        real += sum(group)
        padded += max(group) * len(group)
    return real / padded, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", default="runs/data/stdlib.lintseq.jsonl")
    parser.add_argument("--model", default="default", help="tokenizer directory, or 'default'")
    parser.add_argument("--format", default="chat")
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8, help="examples per padded batch (baselines)")
    parser.add_argument(
        "--limit", type=int, default=4000, help="records to use (tokenising all takes a while)"
    )
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from model_runtime.edits import DIFF_TOKEN
    from training.trainable_model import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(args.model))
    if DIFF_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([DIFF_TOKEN])
    records = read_records(Path(args.records))
    random.Random(0).shuffle(records)
    examples, too_long = tokenize_records(records[: args.limit], tokenizer, args.format, args.max_length)
    lengths = [len(e) for e in examples]
    real = sum(lengths)

    started = time.perf_counter()
    rows = pack(examples, args.max_length)
    pack_s = time.perf_counter() - started
    packed_total = len(rows) * args.max_length  # every row is padded to max_length in the worst case

    random_fill, random_total = padded_fill(lengths, args.batch)
    bucket_fill, bucket_total = padded_fill(sorted(lengths), args.batch)
    print(
        f"{len(examples)} examples ({too_long} over {args.max_length} tokens left out), {real:,} real tokens"
    )
    print(f"{'batching':<34} {'tokens computed':>16} {'fill':>7}")
    print(f"{'random batches, padded':<34} {random_total:>16,} {random_fill:>7.1%}")
    print(f"{'length-bucketed batches, padded':<34} {bucket_total:>16,} {bucket_fill:>7.1%}")
    print(f"{'packed rows (rows padded to full)':<34} {packed_total:>16,} {real / packed_total:>7.1%}")
    print(f"packing {len(examples)} examples into {len(rows)} rows took {pack_s:.2f} s")


if __name__ == "__main__":
    main()
