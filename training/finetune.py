"""Finetune a causal LM on LintSeq or baseline records: full or LoRA, one loop you can read top to bottom.

config -> data (tokenise with response-only labels, pack) -> model (+ ``<|diff|>``, + LoRA) -> optimizer and
schedule -> loop (gradient accumulation, bf16 autocast, clipping) -> periodic validation -> atomic checkpoints.

A checkpoint holds everything an exact ``resume`` needs: the trainable weights (the LoRA adapter as
``adapter_model.safetensors``, or the full model), the optimizer and schedule, the step and data position, and the
random states. The data order is a pure function of the seed and the epoch, so the position is just a count of
micro-batches. Checkpoints are written to a temporary directory and renamed into place, and ``latest`` is replaced
atomically, so a run killed at any moment resumes from its last complete checkpoint. Metrics go to
``metrics.jsonl`` (rows past the resumed step are dropped, so a resumed run's log equals an uninterrupted one's) and
``loss.png``.

Accelerate supplies device placement, mixed precision and, under ``accelerate launch``, data-parallel training on
several GPUs; one CPU process is the same code path.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training import frozen_weights
from training.datasets import FORMATS, collate, pack, read_records, tokenize_records
from training.loss import response_loss

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


# --- pure pieces --------------------------------------------------------------------------------------------------


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


# --- checkpoints --------------------------------------------------------------------------------------------------


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint of a run directory, or None."""
    pointer = out / "latest"
    if pointer.is_file():
        candidate = out / pointer.read_text().strip()
        if (candidate / "trainer_state.json").is_file():
            return candidate
    complete = sorted(p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file())
    return complete[-1] if complete else None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(
    out: Path, step: int, model, tokenizer, optimizer, state: dict, config: TrainConfig, keep: int
):
    """Write checkpoint-<step> atomically (temp dir, then rename), point ``latest`` at it, prune old ones."""
    import numpy as np
    import torch

    name = f"checkpoint-{step:06d}"
    tmp = out / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp, lora=config.lora)
    tokenizer.save_pretrained(tmp)
    torch.save(
        {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()},
        tmp / "optimizer.pt",
    )
    rng = {"python": _jsonable(random.getstate()), "numpy": _jsonable(np.random.get_state())}
    (tmp / "rng.json").write_text(json.dumps(rng))
    (tmp / "train_config.json").write_text(json.dumps(config.to_json(), indent=2))
    # trainer_state.json is written last: its presence marks the checkpoint complete.
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2))
    final = out / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _atomic_write(out / "latest", name)
    for old in sorted(p for p in out.glob("checkpoint-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_weights(model, directory: Path, *, lora: bool) -> None:
    """Save the trainable weights: a LoRA adapter (never the whole resized embedding matrix) or the full model."""
    if lora:
        # The resized vocabulary would make peft save every embedding row (113 MB); the new token's row is already
        # in the adapter as a trainable token.
        model.save_pretrained(directory, safe_serialization=True, save_embedding_layers=False)
    else:
        model.save_pretrained(directory, safe_serialization=True)


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _restore_rng(path: Path, torch_rng) -> None:
    import numpy as np
    import torch

    rng = json.loads((path / "rng.json").read_text())
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch_rng)


# --- model --------------------------------------------------------------------------------------------------------


def resolve_model_path(spec: str) -> str:
    """A model directory for ``spec``: a registry name (``default``: the registry's default) is installed (once)
    and its directory returned (an adapter entry's: its base's); anything else is returned as it is."""
    from model_runtime.registry import catalog

    if Path(spec).expanduser().exists() or catalog.load().find(spec) is None:
        return spec
    from model_runtime.registry.install import install_model

    return str(install_model(spec))


def load_for_training(config: TrainConfig, resume_from: Path | None):
    """``(model, tokenizer)`` ready to train: ``<|diff|>`` added, LoRA attached (or full), weights from a checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from model_runtime.loading import ensure_diff_token

    path = resolve_model_path(config.model)
    source = str(resume_from) if resume_from is not None and not config.lora else path
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=config.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=torch.float32, use_safetensors=True, trust_remote_code=config.trust_remote_code
    )
    diff_id = ensure_diff_token(model, tokenizer)
    tokenizer.padding_side = "right"
    model.config.use_cache = False
    if config.lora:
        from peft import LoraConfig, PeftModel, get_peft_model

        if resume_from is not None:
            model = PeftModel.from_pretrained(model, str(resume_from), is_trainable=True)
        else:
            lora = LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=list(config.lora_targets),
                # Only the new token's embedding row trains (and is saved), not the whole 49k x 576 matrix.
                trainable_token_indices=[diff_id],
                task_type="CAUSAL_LM",
            )
            model = get_peft_model(model, lora)
    return model, tokenizer


def choose_format(config: TrainConfig, tokenizer) -> str:
    """The text format: the configured one, or ``chat`` when the tokenizer has a chat template (``auto``)."""
    if config.format == "auto":
        return "chat" if getattr(tokenizer, "chat_template", None) else "plain"
    if config.format not in FORMATS:
        raise ValueError(f"unknown format {config.format!r}; choose one of auto, {', '.join(FORMATS)}")
    return config.format


# --- the loop -----------------------------------------------------------------------------------------------------


def evaluate(model, rows, pad_id: int, batch_rows: int, device, autocast) -> float:
    """Mean response-token loss over validation rows."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rows), batch_rows):
            with autocast():
                loss, n = response_loss(model, collate(rows[i : i + batch_rows], pad_id), device)
            total += float(loss)
            count += n
    model.train()
    return total / max(count, 1)


def plot_losses(metrics_path: Path, png_path: Path) -> None:
    """Draw train and validation loss against tokens seen into a PNG (skipped quietly without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    train = [(r["tokens"], r["loss"]) for r in rows if "loss" in r]
    valid = [(r["tokens"], r["valid_loss"]) for r in rows if "valid_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train", alpha=0.6)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="valid")
    ax.set_xlabel("response tokens seen")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png_path)


def _truncate_metrics(path: Path, step: int) -> None:
    if not path.is_file():
        return
    kept = [
        line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step
    ]
    _atomic_write(path, "".join(line + "\n" for line in kept))


def _any_process(accelerator, flag: bool, device) -> bool:
    """Whether ``flag`` holds on any process (clocks differ: every process must stop at the same step)."""
    if accelerator.num_processes == 1:
        return flag
    import torch

    return float(accelerator.reduce(torch.tensor(float(flag), device=device), reduction="sum")) > 0


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True, log=print) -> Path:
    """Run (or resume) training; returns the directory of the final weights (``out/final``)."""
    import torch
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    resume_from = latest_checkpoint(out) if resume else None
    if resume and resume_from is None:
        log(f"no checkpoint in {out}; starting from scratch")
    if resume_from is not None:
        saved = TrainConfig.from_json(json.loads((resume_from / "train_config.json").read_text()))
        if (saved.data, saved.lora, saved.seed, saved.rows, saved.max_length) != (
            config.data, config.lora, config.seed, config.rows, config.max_length,
        ):  # fmt: skip
            raise ValueError(
                f"{resume_from} was trained with another data file, seed, batch shape or mode; "
                "resume with the same settings or use a new --out"
            )
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    precision = config.precision
    if precision == "auto":
        precision = "bf16" if (not torch.cuda.is_available() or torch.cuda.is_bf16_supported()) else "fp16"
    accelerator = Accelerator(mixed_precision="no" if precision == "fp32" else precision)
    device = accelerator.device

    warm = Path(config.warm_start) if config.warm_start and resume_from is None else None
    if warm is not None and not (config.lora and (warm / "trainer_state.json").is_file()):
        raise ValueError(
            f"--warm-start needs a LoRA run and an adapter exported with its trainer_state.json: {warm}"
        )

    # data
    model, tokenizer = load_for_training(config, resume_from or warm)
    if config.lora and precision in ("bf16", "fp16"):
        stored = frozen_weights.store_in(model, torch.bfloat16 if precision == "bf16" else torch.float16)
        log(f"{stored} frozen linear weights stored in {precision} (autocast uses them without a cast)")
    fmt = choose_format(config, tokenizer)
    records = read_records(Path(config.data))
    if config.valid_data:
        train_records = records
        valid_records = read_records(Path(config.valid_data))
    else:
        train_records = [r for r in records if r.get("split", "train") != "valid"]
        valid_records = [r for r in records if r.get("split") == "valid"]
    train_examples, too_long = tokenize_records(train_records, tokenizer, fmt, config.max_length)
    valid_examples, _ = tokenize_records(valid_records, tokenizer, fmt, config.max_length)
    if not train_examples:
        raise ValueError(f"no training example of {config.data} fits in {config.max_length} tokens")
    rows = pack(train_examples, config.max_length)
    valid_rows = pack(valid_examples, config.max_length)[: config.eval_rows]
    steps = total_steps(config, len(rows), accelerator.num_processes)
    warmup_steps = int(config.warmup * steps)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    log(
        f"format {fmt}; {len(train_examples)} train examples ({too_long} longer than {config.max_length} left out) "
        f"packed into {len(rows)} rows; {len(valid_rows)} validation rows; {steps} steps"
    )

    # optimizer and schedule
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.95),
    )
    state = {"step": 0, "micro": 0, "tokens": 0, "seconds": 0.0}
    if resume_from is not None:
        saved_opt = torch.load(resume_from / "optimizer.pt", map_location="cpu", weights_only=True)
        optimizer.load_state_dict(saved_opt["optimizer"])
        state = json.loads((resume_from / "trainer_state.json").read_text())
        _restore_rng(resume_from, saved_opt["torch_rng"])
        log(f"resumed from {resume_from} at step {state['step']}")
    elif warm is not None:
        state = json.loads((warm / "trainer_state.json").read_text())
        log(f"warm start from {warm} at step {state['step']} (fresh optimizer moments)")
    state["total_steps"] = steps
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    metrics_path = out / "metrics.jsonl"
    if accelerator.is_main_process:  # one writer: another process's truncation would orphan the open file
        (out / "train_config.json").write_text(json.dumps(config.to_json(), indent=2))
        _truncate_metrics(metrics_path, state["step"])
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)

    def set_lr(step: int) -> float:
        lr = config.lr * lr_factor(step, steps, warmup_steps, config.schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    order_cache: dict = {}
    world, rank = accelerator.num_processes, accelerator.process_index
    bar = tqdm(total=steps, initial=state["step"], disable=not (progress and accelerator.is_main_process))
    started = time.time() - state["seconds"]
    main = accelerator.is_main_process
    with open(metrics_path, "a", encoding="utf-8") if main else contextlib.nullcontext() as metrics:
        while state["step"] < steps:
            lr = set_lr(state["step"])
            # Each process takes its share of the step's micro-batches; all of them count the step's tokens so
            # the loss is a mean over the whole step, as with one process.
            micro = [
                collate(
                    [rows[i] for i in micro_batch(order_cache, len(rows), config.rows, config.seed, m)],
                    pad_id,
                )
                for m in range(state["micro"], state["micro"] + config.grad_accum * world)
            ]
            step_tokens = sum(int((b["labels"][:, 1:] != -100).sum()) for b in micro)
            mine = micro[rank::world]
            step_loss = 0.0
            for k, batch in enumerate(mine):
                sync = k == len(mine) - 1
                with accelerator.no_sync(model) if not sync else contextlib.nullcontext():
                    with accelerator.autocast():
                        loss_sum, _ = response_loss(model, batch, device)
                    accelerator.backward(loss_sum * world / max(step_tokens, 1))
                step_loss += float(loss_sum.detach())
            if config.max_grad_norm > 0:
                accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step_loss = float(accelerator.reduce(torch.tensor(step_loss, device=device), reduction="sum"))
            state["step"] += 1
            state["micro"] += config.grad_accum * world
            state["tokens"] += step_tokens
            state["seconds"] = time.time() - started
            out_of_time = config.max_seconds > 0 and _any_process(
                accelerator, state["seconds"] >= config.max_seconds, device
            )
            row = {
                "step": state["step"],
                "loss": step_loss / max(step_tokens, 1),
                "lr": lr,
                "tokens": state["tokens"],
                "tokens_per_s": round(state["tokens"] / max(state["seconds"], 1e-9), 1),
            }
            if valid_rows and (state["step"] % config.eval_every == 0 or state["step"] == steps):
                row["valid_loss"] = evaluate(
                    model, valid_rows, pad_id, config.rows, device, accelerator.autocast
                )
            if accelerator.is_main_process:
                if state["step"] % config.log_every == 0 or "valid_loss" in row:
                    metrics.write(json.dumps(row) + "\n")
                    metrics.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=row["tokens_per_s"])
                if state["step"] % config.save_every == 0 or state["step"] == steps or out_of_time:
                    save_checkpoint(
                        out, state["step"], unwrapped, tokenizer, optimizer, state, config, config.keep
                    )
                if "valid_loss" in row:  # matplotlib takes a while; the curve changes most at evaluations
                    plot_losses(metrics_path, out / "loss.png")
            accelerator.wait_for_everyone()
            if out_of_time:
                log(f"time budget of {config.max_seconds:.0f} s spent at step {state['step']} of {steps}")
                break
    bar.close()
    final = out / "final"
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        save_weights(unwrapped, final, lora=config.lora)
        tokenizer.save_pretrained(final)
        if config.lora and config.merge:
            frozen_weights.restore(unwrapped)  # merge into the float32 weights, as loaded
            merged = unwrapped.merge_and_unload()
            merged.save_pretrained(out / "merged", safe_serialization=True)
            tokenizer.save_pretrained(out / "merged")
        plot_losses(metrics_path, out / "loss.png")
    return final
