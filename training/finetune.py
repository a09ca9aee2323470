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

The pieces live beside this loop: ``training.train_config`` (the config, schedule and data order),
``training.trainable_model`` (loading the model) and ``training.checkpoints`` (checkpoints and resume).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import time
from pathlib import Path

from training import frozen_weights
from training.checkpoints import (
    latest_checkpoint,
    restore_rng,
    save_checkpoint,
    save_weights,
    truncate_metrics,
)
from training.datasets import collate, pack, read_records, tokenize_records
from training.loss import response_loss
from training.train_config import TrainConfig, lr_factor, micro_batch, total_steps
from training.trainable_model import choose_format, load_for_training


def resolve_precision(requested: str) -> str:
    """``auto`` becomes bf16 autocast where the hardware computes bf16 natively (a GPU that supports it; a CPU with
    AVX512-bf16 or AMX: about 1.7x fp32 there), fp16 on an older GPU, and fp32 on a CPU that would emulate bf16
    (AVX2 only: a bf16 matmul ran 6.8x slower than fp32 on the 2-core AMD EPYC). Other values are kept."""
    import torch

    from model_runtime.quantize import native_bf16

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_bf16() else "fp32"


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


def _any_process(accelerator, flag: bool, device) -> bool:
    """Whether ``flag`` holds on any process (clocks differ: every process must stop at the same step)."""
    if accelerator.num_processes == 1:
        return flag
    import torch

    return float(accelerator.reduce(torch.tensor(float(flag), device=device), reduction="sum")) > 0


def time_estimate(step_s: float, step: int, steps: int, seconds: float, config: TrainConfig) -> str:
    """What the first step of a run says about its end: the rest at that step's pace, and where the budget stops it."""
    rest = (steps - step) * step_s
    text = f"step {step} of {steps} took {step_s:.0f} s: the rest would take about {rest / 60:.0f} min"
    if config.max_seconds > 0 and seconds + rest > config.max_seconds:
        reached = step + int(max(config.max_seconds - seconds, 0) / max(step_s, 1e-9))
        text += (
            f"; the time budget of {config.max_seconds / 60:g} min stops it near step {min(reached, steps)}"
        )
    return text


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

    precision = resolve_precision(config.precision)
    log(f"precision: {precision}" + (" (auto)" if config.precision == "auto" else ""))
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
        restore_rng(resume_from, saved_opt["torch_rng"])
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
        truncate_metrics(metrics_path, state["step"])
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
    seconds_before = state["seconds"]
    main = accelerator.is_main_process
    first_step = state["step"]
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
            if main and state["step"] == first_step + 1:
                log(
                    time_estimate(
                        state["seconds"] - seconds_before, state["step"], steps, state["seconds"], config
                    )
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
