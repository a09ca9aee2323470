"""What the HumanEval tests share: a one-line solution, and results files written as the commands write them."""

from __future__ import annotations

import json
from pathlib import Path

from training.evaluation.harness import per_prompt, run_humaneval

STRLEN = "def strlen(string: str) -> int:\n    return len(string)"


def record_samples(problem, texts: list[str], *, mode: str, out: Path, config: dict) -> None:
    """A results record of one problem whose n samples are ``texts``, as `eval humaneval` writes it."""
    run_humaneval(
        [problem], per_prompt(lambda _p, _n: texts), mode=mode, n=len(texts), out=out, config=config
    )


def write_samples(path: Path, rows) -> Path:
    """A samples file of (task id, completion) rows, as `eval humaneval` exports them."""
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    return path
