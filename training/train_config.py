"""``TrainConfig``, everything that decides a finetuning run, and the pure functions of a run's shape: the
learning-rate schedule, the data order (a function of the seed and the epoch only, so a resume needs just a count of
micro-batches) and the number of optimizer steps."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SCHEDULES = ("linear", "cosine", "constant")


@dataclass
class TrainConfig:
    """Everything that decides a run; saved in every checkpoint. Defaults suit SmolLM2-135M LoRA on a laptop CPU."""

    model: str
    data: str  # records JSONL; rows with split == "valid" are the validation set unless valid_data is given
    out: str
    valid_data: str | None = None
    format: str = "auto"  # plain | chat | auto (chat when the tokenizer has a chat template)
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = LORA_TARGETS
    merge: bool = False  # after training, also save the LoRA merged into the base
    lr: float = 3e-4
    weight_decay: float = 0.01
    schedule: str = "linear"
    warmup: float = 0.02  # fraction of the steps (the paper's 0.001 is under one step at this scale)
    max_length: int = 1024
    rows: int = 2  # packed rows of max_length tokens per micro-batch
    grad_accum: int = 4
    epochs: float = 1.0
    max_steps: int = 0  # > 0 overrides epochs
    eval_every: int = 50
    eval_rows: int = 32
    save_every: int = 25
    keep: int = 3
    log_every: int = 1
    precision: str = "auto"  # auto (bf16 where supported) | bf16 | fp32
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    trust_remote_code: bool = False
    max_grad_norm: float = 1.0
    # An adapter published by `editseq export` (it carries trainer_state.json) to continue from on another machine:
    # weights, step and data position are restored; the optimizer's moments start afresh (they are not published).
    warm_start: str | None = None
    # A wall-clock cap on training (seconds, summed over resumed runs; 0: none). Stopping early leaves the schedule
    # unfinished, so budgeted runs (``editseq retrain``) use the constant schedule.
    max_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["lora_targets"] = list(self.lora_targets)
        return data

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["lora_targets"] = tuple(data.get("lora_targets") or LORA_TARGETS)
        return cls(**data)


def lr_factor(step: int, total: int, warmup_steps: int, schedule: str) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warm-up, then linear or cosine decay to 0."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total - warmup_steps)
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The order of n packed rows in one epoch: a permutation that depends only on the seed and the epoch."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(n))
    rng.shuffle(order)
    return order


def micro_batch(order_cache: dict, n_rows: int, rows: int, seed: int, index: int) -> list[int]:
    """Row indices of the ``index``-th micro-batch of the whole run (epochs follow one another)."""
    per_epoch = max(1, n_rows // rows)
    epoch, within = divmod(index, per_epoch)
    if epoch not in order_cache:
        order_cache.clear()
        order_cache[epoch] = epoch_order(n_rows, seed, epoch)
    order = order_cache[epoch]
    return order[within * rows : (within + 1) * rows]


def total_steps(config: TrainConfig, n_rows: int, world: int = 1) -> int:
    """Optimizer steps of the run: ``max_steps``, or the epochs over the packed rows."""
    if config.max_steps > 0:
        return config.max_steps
    per_step = config.rows * config.grad_accum * world
    return max(1, math.ceil(config.epochs * n_rows / per_step))
