"""What decides an ``editseq retrain`` run (``RetrainOptions``) and where its model goes by default."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RetrainOptions:
    """What decides a retraining run. Defaults aim at SmolLM2-135M on a 2-core laptop CPU within half an hour."""

    repo: Path
    out: Path
    base: str = "default"  # "default", a retrained model directory (an adapter), or a causal LM directory
    budget_minutes: float = 10.0  # training only; collection, data and evaluation come on top
    held_out: float = 0.15  # share of files held out (at least one)
    history_cases: int = 24  # newest next edits of the git history held out as the yardstick (0: none)
    samples: int = 3  # LintSeq sequences per program
    seed: int = 0
    workers: int = 1
    backend: str = "local"  # local | ray
    address: str | None = None  # Ray cluster address (None: start a local one)
    suggestions_log: Path | None = None
    min_body: int = 3
    max_body: int = 40
    lr: float = 2e-4
    max_length: int = 1024
    rows: int = 2
    grad_accum: int = 4
    epochs: float = 1.0
    eval_programs: int = 12
    eval_steps: int = 1  # one case per program: more programs for the same decoding time
    eval_rows: int = 16
    k: int = 4
    max_new_tokens: int = 96
    strategy: str = "whole"  # the prompt mode the language server uses
    device: str = "auto"
    threads: int = 0


def default_out(repo: Path) -> Path:
    """Where a repository's retrained model goes by default: the EditSeq home, named after the repository."""
    from model_runtime.loading import editseq_home

    resolved = repo.resolve()
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return editseq_home() / "retrained" / f"{resolved.name}-{tag}"
