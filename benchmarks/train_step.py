"""One LoRA training micro-batch (forward and backward, bf16 autocast) on the default model: as every step ran before
(logits at every position, frozen weights cast by autocast each pass) against now (logits only where a row has a
label; frozen linear weights stored in bf16), same rows, alternating in one run.

    python benchmarks/train_step.py [--data runs/data/stdlib.baseline.jsonl] [--rows 2] [--rounds 3]

The rows are the first packed rows (1,024 tokens, chat format) of the records file, as `editseq train` packs them,
with the LoRA settings of `editseq train`'s defaults. Each round runs before, then now, on the same batches; the
table gives seconds per micro-batch for each round, the medians, and the speed-up. It also checks that the two give
the same loss. Needs the default model (``editseq model install``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from model_runtime.default_model import is_installed  # noqa: E402
from training import frozen_weights  # noqa: E402
from training.datasets import collate, pack, read_records, tokenize_records  # noqa: E402
from training.loss import response_loss  # noqa: E402
from training.train_config import TrainConfig  # noqa: E402
from training.trainable_model import load_for_training  # noqa: E402


def micro_batch_s(model, batch, every_position: bool) -> tuple[float, float]:
    model.zero_grad(set_to_none=True)
    started = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, count = response_loss(model, batch, "cpu", every_position=every_position)
    (loss / count).backward()
    return time.perf_counter() - started, loss.item() / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "runs" / "data" / "stdlib.baseline.jsonl"))
    parser.add_argument("--rows", type=int, default=2, help="Packed rows per micro-batch.")
    parser.add_argument("--batches", type=int, default=2, help="Micro-batches per round.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not is_installed():
        sys.exit("the default model is not installed: run `editseq model install`")
    model, tokenizer = load_for_training(TrainConfig(model="default", data=args.data, out=""), None)
    model.train()
    records = [r for r in read_records(Path(args.data)) if r["split"] == "train"][
        : 200 * args.rows * args.batches
    ]
    examples, _ = tokenize_records(records, tokenizer, "chat", 1024)
    rows = pack(examples, 1024)
    batches = [
        collate(rows[i * args.rows : (i + 1) * args.rows], tokenizer.eos_token_id)
        for i in range(args.batches)
    ]
    micro_batch_s(model, batches[0], True)  # warm-up
    times: dict[str, list[float]] = {"before": [], "now": []}
    losses: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(args.rounds):
        for name in times:
            if name == "now":
                frozen_weights.store_in(model, torch.bfloat16)
            else:
                frozen_weights.restore(model)
            runs = [micro_batch_s(model, b, every_position=name == "before") for b in batches]
            times[name].append(sum(t for t, _ in runs) / len(runs))
            losses[name] = [loss for _, loss in runs]
    tokens = sum(int(b["input_ids"].numel()) for b in batches) // len(batches)
    print(f"{tokens} tokens per micro-batch; loss per token before {losses['before']} / now {losses['now']}")
    before = statistics.median(times["before"])
    print("| step | s per micro-batch (each round) | median | speed-up |")
    print("|---|---|---|---|")
    for name, label in (
        ("before", "every position, fp32 frozen weights"),
        ("now", "kept logits, bf16 frozen"),
    ):
        median = statistics.median(times[name])
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {label} | {runs} | {median:.2f} | {before / median:.2f}x |")


if __name__ == "__main__":
    main()
