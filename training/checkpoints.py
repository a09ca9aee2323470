"""A training run's directory on disk: atomic checkpoints holding everything an exact resume needs (trainable
weights, optimizer, step and data position, random states), the newest complete one, and the metrics log cut back
to a resumed step.

Checkpoints are written to a temporary directory and renamed into place, and ``latest`` is replaced atomically, so
a run killed at any moment resumes from its last complete checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

from training.train_config import TrainConfig


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint of a run directory, or None."""
    pointer = out / "latest"
    if pointer.is_file():
        candidate = out / pointer.read_text().strip()
        if (candidate / "trainer_state.json").is_file():
            return candidate
    complete = sorted(p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file())
    return complete[-1] if complete else None


def atomic_write(path: Path, text: str) -> None:
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
    atomic_write(out / "latest", name)
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


def restore_rng(path: Path, torch_rng) -> None:
    import numpy as np
    import torch

    rng = json.loads((path / "rng.json").read_text())
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch_rng)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the metrics rows past ``step``, so a resumed run's log equals an uninterrupted one's."""
    if not path.is_file():
        return
    kept = [
        line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step
    ]
    atomic_write(path, "".join(line + "\n" for line in kept))
