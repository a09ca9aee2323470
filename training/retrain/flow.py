"""``retrain``: run (or resume) every stage of ``editseq retrain`` in order, each leaving its result under
``OUT/work``, and write the report (see the package docstring for the stages)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from training import corpus
from training.jsonl import write_jsonl
from training.retrain.data import collect_to, make_records
from training.retrain.history import HistoryPlan, history_cases, plan_history, snapshot, verdict
from training.retrain.models import install_model, resolve_start, score, warm_start_dir
from training.retrain.options import RetrainOptions
from training.retrain.report import render_report

STAGES = ("collect", "records", "evaluate before", "train", "evaluate after", "report")


class _Stages:
    """Stage bookkeeping: numbered progress lines (the editor shows them) and wall time per stage."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.seconds: dict[str, float] = {}
        self._name: str | None = None
        self._started = 0.0

    def begin(self, name: str) -> None:
        self.end()
        self._name, self._started = name, time.perf_counter()
        self.log(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}")

    def end(self) -> None:
        if self._name is not None:
            self.seconds[self._name] = round(time.perf_counter() - self._started, 1)
            self._name = None


# Scoring a briefly trained model took up to this many times the starting model's scoring (measured: 2.6x on this
# repository, its malformed answers running to the token limit; docs/finetuning.md).
SLOW_SCORING = 3.0


def estimate(options: RetrainOptions, before_seconds: float) -> str:
    """The time the rest of the run should take: training stops within its budget, and scoring the new model
    costs about what scoring the starting one did, or up to ``SLOW_SCORING`` times that."""
    budget = 60.0 * options.budget_minutes
    rest, worst = budget + before_seconds, budget + SLOW_SCORING * before_seconds
    return (
        f"  estimate: training at most {options.budget_minutes:g} min (--budget-minutes), then scoring the new "
        f"model about {before_seconds / 60:.1f} min: done in about {rest / 60:.0f} min (up to {worst / 60:.0f} "
        "min if its answers run to the token limit, as a short run's often do)"
    )


def _cached(path: Path, compute: Callable[[], dict], needs: tuple[str, ...] = ()) -> dict:
    """The stage's result kept at ``path``, else ``compute()``'s, kept there; a kept result without the keys
    ``needs`` names (written by an older version) is computed again."""
    if path.is_file():
        kept = json.loads(path.read_text())
        if all(key in kept for key in needs):
            return kept
    value = compute()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2))
    tmp.replace(path)
    return value


def retrain(options: RetrainOptions, *, log: Callable[[str], None] = print) -> dict:
    """Run (or resume) every stage; returns the report, also written as ``report.json`` and ``report.md``."""
    from training.checkpoints import latest_checkpoint
    from training.datasets import read_records
    from training.evaluation.next_edit import cases_for
    from training.feedback import feedback_records, read_log
    from training.finetune import train
    from training.train_config import TrainConfig

    if not options.repo.is_dir():
        raise ValueError(f"{options.repo} is not a directory")
    if options.strategy not in ("whole", "lintseq"):
        raise ValueError(f"unknown strategy {options.strategy!r}; choose whole or lintseq")
    if options.backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {options.backend!r}; choose local or ray")
    if options.suggestions_log is not None and not options.suggestions_log.is_file():
        raise ValueError(f"no suggestions log at {options.suggestions_log}")
    started = time.perf_counter()
    out, work = options.out, options.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    stages = _Stages(log)
    start = resolve_start(options.base)

    stages.begin("collect")
    plan = HistoryPlan(
        **_cached(work / "history.json", lambda: plan_history(options.repo, options.history_cases).to_json())
    )
    history = history_cases(options.repo, plan.head, plan.cases) if plan.cut else ()  # as planned, if resumed
    if plan.cut:
        log(f"  held out: the newest {len(history)} next edits of the git history; training reads the tree at "
            f"{plan.cut[:12]}^ (before the oldest of them)")  # fmt: skip
        source = dataclasses.replace(options, repo=snapshot(options.repo, plan.cut, work / "snapshot"))
    else:
        log(f"  no history yardstick ({plan.reason}): the held-out files decide")
        source = options
    programs_path = work / "programs.jsonl"
    info = _cached(work / "collect.json", lambda: collect_to(programs_path, source))
    programs = corpus.read_programs(programs_path)
    train_programs = [p for p in programs if p.split == "train"]
    valid_programs = [p for p in programs if p.split == "valid"]
    log(f"  {info['files']} files, {len(train_programs)} train and {len(valid_programs)} held-out programs")

    stages.begin("records")
    make_records(programs, work, options, log)
    train_records = read_records(work / "train.lintseq.jsonl")
    valid_records = read_records(work / "valid.lintseq.jsonl")
    feedback, feedback_stats = [], None
    if options.suggestions_log is not None:
        feedback, feedback_stats = feedback_records(
            read_log(options.suggestions_log), options.repo, held_out=frozenset(info["held_out"])
        )
        log(f"  suggestions log: {feedback_stats.accepted} accepted, {feedback_stats.rejected} rejected; "
            f"{feedback_stats.used} accepted edits used")  # fmt: skip
    data_path = work / "train.records.jsonl"
    write_jsonl(data_path, [*train_records, *feedback])
    if not valid_records:
        raise ValueError("the held-out files gave no LintSeq sequence; use a larger --held-out share")

    # Functions first: they are what the editor completes most, and whole files make very long cases.
    ordered = sorted(valid_programs, key=lambda p: (p.name == "", p.path, p.name))[: options.eval_programs]
    cases = [
        c
        for p in ordered
        for c in cases_for(
            f"{p.path}::{p.name}", p.instruction, p.program, seed=options.seed, max_steps=options.eval_steps
        )  # fmt: skip
    ]
    stages.begin("evaluate before")
    before = _cached(
        work / f"before-{options.strategy}.json",
        lambda: score(
            options.base,
            cases,
            valid_records,
            options,
            work / f"next-edit-before-{options.strategy}.jsonl",
            log,
            history,
        ),
        needs=("per_case", "seconds"),
    )
    log(estimate(options, before_seconds=before["seconds"]))

    stages.begin("train")
    config = TrainConfig(
        model=start.base, data=str(data_path), out=str(work / "run"), valid_data=str(work / "valid.lintseq.jsonl"),
        format=start.format, lr=options.lr, schedule="constant", warmup=0.05, max_length=options.max_length,
        rows=options.rows, grad_accum=options.grad_accum, epochs=options.epochs, eval_every=10**9,
        eval_rows=options.eval_rows, save_every=10, keep=2, seed=options.seed, threads=options.threads,
        warm_start=str(warm_start_dir(start.adapter, work)) if start.adapter else None,
        max_seconds=60.0 * options.budget_minutes,
    )  # fmt: skip

    def run_training() -> dict:
        final = train(config, resume=True, progress=False, log=lambda m: log(f"  {m}"))
        state = json.loads((latest_checkpoint(work / "run") / "trainer_state.json").read_text())
        return {"final": str(final), **state}

    trained = _cached(work / "trained.json", run_training)
    install_model(Path(trained["final"]), out, config, options)

    stages.begin("evaluate after")
    after = _cached(
        work / f"after-{options.strategy}.json",
        lambda: score(
            str(out),
            cases,
            valid_records,
            options,
            work / f"next-edit-after-{options.strategy}.jsonl",
            log,
            history,
        ),
        needs=("per_case",),
    )
    decided = verdict(before["per_case"], after["per_case"], "history" if history else "held-out files")

    stages.begin("report")
    stages.end()
    report = {
        "repo": str(options.repo.resolve()),
        "repo_name": options.repo.resolve().name,
        "base": options.base,
        "model_dir": str(out.resolve()),
        "strategy": options.strategy,
        "k": options.k,
        "data": {
            "files": info["files"],
            "held_out_files": info["held_out_files"],
            "skipped_files": info["skipped_files"],
            "dropped": info["dropped"],
            "programs": len(programs),
            "train_programs": len(train_programs),
            "valid_programs": len(valid_programs),
            "samples": options.samples,
            "train_records": len(train_records),
            "valid_records": len(valid_records),
            "feedback_records": len(feedback),
            "feedback": feedback_stats.to_json() if feedback_stats else None,
        },
        "training": {
            "steps": trained["step"],
            "total_steps": trained.get("total_steps", trained["step"]),
            "tokens": trained["tokens"],
            "seconds": trained["seconds"],
            "stopped_by_budget": trained["step"] < trained.get("total_steps", trained["step"]),
            "budget_minutes": options.budget_minutes,
        },
        "history": plan.to_json(),
        "before": before,
        "after": after,
        "verdict": decided.to_json(),
        "stage_seconds": stages.seconds,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(render_report(report))
    return report
