"""``editseq retrain``: teach the model the repository it serves, end to end, in one resumable command.

collect (the repository's Python, .gitignore respected, vendored/generated/huge skipped, deduplicated) -> split by
file into train and held-out -> LintSeq records (the ``editseq lintseq`` job, local or Ray) plus accepted edits from
the suggestions log -> score the starting model on the held-out files (next-edit benchmark and validation loss) ->
LoRA-finetune under a wall-clock budget -> score the new model the same way -> write the model directory (adapter,
tokenizer, ``train_config.json``, ``report.md``, ``report.json``), which the language server loads as ``modelPath``.

Every stage leaves its result under ``OUT/work`` and skips itself when it is there, and training resumes from its
last checkpoint, so a killed run is finished by rerunning the same command. The starting model is the current
default (SmolLM2 + the EditSeq adapter, whose LoRA weights training continues from), a previously retrained model
directory (the same), or any causal LM directory (a fresh LoRA).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

from training import corpus
from training.jsonl import write_jsonl

STAGES = ("collect", "records", "evaluate before", "train", "evaluate after", "report")
MODEL_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class RetrainOptions:
    """What decides a retraining run. Defaults aim at SmolLM2-135M on a 2-core laptop CPU within half an hour."""

    repo: Path
    out: Path
    base: str = "default"  # "default", a retrained model directory (an adapter), or a causal LM directory
    budget_minutes: float = 10.0  # training only; collection, data and evaluation come on top
    held_out: float = 0.15  # share of files held out (at least one)
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


# --- pure pieces --------------------------------------------------------------------------------------------------


def held_out_files(paths: Sequence[str], fraction: float, seed: int = 0) -> frozenset[str]:
    """The files to hold out: a seeded hash order of the paths, the first ``fraction`` of them (at least one).

    Stable under renaming other files, and independent of the order the paths come in.
    """
    unique = sorted(set(paths))
    if len(unique) < 2:
        return frozenset()
    ranked = sorted(unique, key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    count = min(len(unique) - 1, max(1, round(fraction * len(unique))))
    return frozenset(ranked[:count])


def split_programs(programs: Sequence[corpus.Program], held_out: frozenset[str]) -> list[corpus.Program]:
    """The programs with ``split`` set by file: ``valid`` for held-out files, ``train`` for the rest."""
    return [dataclasses.replace(p, split="valid" if p.path in held_out else "train") for p in programs]


def job_rows(programs: Sequence[corpus.Program]) -> list[dict]:
    """Input rows of the LintSeq job: a stable id (file and function), the instruction and the program."""
    return [
        {
            "id": f"{p.path}::{p.name}" if p.name else p.path,
            "instruction": p.instruction,
            "response": p.program,
        }
        for p in programs
    ]


def default_out(repo: Path) -> Path:
    """Where a repository's retrained model goes by default: the EditSeq home, named after the repository."""
    from model_runtime.loading import editseq_home

    resolved = repo.resolve()
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return editseq_home() / "retrained" / f"{resolved.name}-{tag}"


def summary_row(next_edit: dict, loss: float | None) -> dict:
    """The figures a report compares: top-1 exact, line F1, hit@k, validity, cases, validation loss."""
    return {
        "cases": next_edit.get("cases", 0),
        "exact": next_edit.get("exact"),
        "line_f1": next_edit.get("line_f1"),
        "hit_at_k": next_edit.get("hit_at_k"),
        "validity": next_edit.get("validity"),
        "valid_loss": loss,
    }


def render_report(report: dict) -> str:
    """``report.md``: what was trained on, the before/after table, and how to use the model."""
    before, after = report["before"], report["after"]

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    def num(v):
        return "–" if v is None else f"{v:.3f}"

    data, training = report["data"], report["training"]
    lines = [
        f"# EditSeq model retrained on {report['repo_name']}",
        "",
        f"Repository `{report['repo']}`; starting model `{report['base']}`.",
        "",
        "## Data",
        "",
        f"- {data['files']} Python files ({data['held_out_files']} held out), {data['programs']} programs "
        f"({data['train_programs']} train, {data['valid_programs']} held out); skipped files: "
        f"{data['skipped_files'] or 'none'}; dropped programs: {data['dropped'] or 'none'}",
        f"- {data['train_records']} LintSeq training sequences ({data['samples']} per program), "
        f"{data['valid_records']} held-out sequences, {data['feedback_records']} accepted edits from the "
        "suggestions log",
        "",
        "## Training",
        "",
        f"- {training['steps']} optimizer steps of {training['total_steps']}, {training['tokens']} response tokens, "
        f"{training['seconds']:.0f} s"
        + (" (stopped by the time budget)" if training["stopped_by_budget"] else ""),
        "",
        f"## Held-out files: before and after ({report['strategy']} prompts, k = {report['k']})",
        "",
        "| model | cases | top-1 exact | line F1 | hit@k | validity | validation loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in (("before", before), ("after", after)):
        lines.append(
            f"| {name} | {row['cases']} | {pct(row['exact'])} | {num(row['line_f1'])} | {pct(row['hit_at_k'])} | "
            f"{pct(row['validity'])} | {num(row['valid_loss'])} |"
        )
    lines += [
        "",
        "## Use it",
        "",
        "Set the editor's `editseq.modelPath` to this directory (the server reloads without a restart), or run "
        f"`editseq suggest --model {report['model_dir']} FILE`.",
        "",
        f"Wall time: {report['seconds']:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in report['stage_seconds'].items())}).",
        "",
    ]
    return "\n".join(lines)


# --- models -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The model training starts from: a base directory, and the adapter whose weights it continues (or None)."""

    base: str
    adapter: Path | None
    format: str  # plain | chat | auto


def resolve_start(spec: str) -> Start:
    """Where ``--base`` points: a registry name (``default``: the registry's default; an adapter entry continues
    its adapter), a model directory holding a LoRA adapter, or a causal LM directory."""
    from model_runtime.registry import catalog

    path = Path(spec).expanduser()
    entry = None if path.exists() else catalog.load().find(spec)
    if entry is not None:
        from model_runtime.registry.install import install_model

        base = str(install_model(entry.name))
        adapter = entry.adapter.directory() if entry.adapter else None
        if adapter is None or not (adapter / "adapter_model.safetensors").is_file():
            return Start(base, None, "auto")
        return Start(base, adapter, _recorded_format(adapter))
    if not path.is_dir():
        raise ValueError(
            f"--base {spec}: no such model directory or registry name (give 'default', a name or a directory)"
        )
    if (path / "adapter_config.json").is_file():
        from model_runtime.loading import adapter_base

        return Start(adapter_base(path), path.resolve(), _recorded_format(path))
    return Start(str(path.resolve()), None, "auto")


def _recorded_format(directory: Path) -> str:
    config = directory / "train_config.json"
    if config.is_file():
        recorded = json.loads(config.read_text()).get("format")
        if recorded in ("plain", "chat"):
            return recorded
    return "auto"


def warm_start_dir(adapter: Path, work: Path) -> Path:
    """A copy of ``adapter`` that ``finetune.train(warm_start=...)`` continues from at step 0 (new data, new run)."""
    target = work / "start-adapter"
    if not (target / "trainer_state.json").is_file():
        tmp = work / "start-adapter.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in MODEL_FILES:
            shutil.copy2(adapter / name, tmp / name)
        # The adapter's own step and data position refer to its own corpus; this run starts at the beginning.
        (tmp / "trainer_state.json").write_text(
            json.dumps({"step": 0, "micro": 0, "tokens": 0, "seconds": 0.0})
        )
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def score(
    start_base: str, adapter: Path | None, cases, valid_records, options: RetrainOptions, results: Path, log
) -> dict:
    """Next-edit benchmark rows (resumed from ``results``) and validation loss of one model on the held-out data."""
    import contextlib

    from model_runtime.loading import clear_cache, load_model
    from model_runtime.suggestions import suggest
    from training.datasets import pack, tokenize_records
    from training.evaluation.next_edit import run_next_edit, summarise_rows
    from training.finetune import evaluate

    loaded = load_model(start_base, device=options.device, adapter=str(adapter) if adapter else None)
    config = {"model": loaded.source, "adapter": loaded.adapter, "k": options.k, "seed": options.seed,
              "max_new_tokens": options.max_new_tokens, "strategy": options.strategy}  # fmt: skip

    def run_one(case, strategy):
        return suggest(
            loaded, case.buffer, instruction=case.instruction, k=options.k, max_new_tokens=options.max_new_tokens,
            mode=strategy, seed=options.seed,
        )  # fmt: skip

    rows = run_next_edit(
        cases,
        [options.strategy],
        run_one,
        k=options.k,
        config=config,
        out=results,
        log=lambda m: log(f"  {m}"),
    )
    summary = summarise_rows(rows).get(options.strategy, {})
    loss = None
    examples, _ = tokenize_records(valid_records, loaded.tokenizer, loaded.prompt_format, options.max_length)
    packed = pack(examples, options.max_length)[: options.eval_rows]
    if packed:
        pad = loaded.tokenizer.pad_token_id
        pad = loaded.tokenizer.eos_token_id if pad is None else pad
        with loaded.lock:
            loss = evaluate(loaded.model, packed, pad, options.rows, loaded.device, contextlib.nullcontext)
            loaded.model.eval()  # evaluate() leaves the model in training mode for the loop that called it
    clear_cache()
    return summary_row(summary, loss)


# --- the flow -----------------------------------------------------------------------------------------------------


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


def _cached(path: Path, compute: Callable[[], dict]) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    value = compute()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2))
    tmp.replace(path)
    return value


def collect(options: RetrainOptions) -> tuple[list[corpus.Program], dict]:
    """The repository's programs (functions and whole small files), deduplicated and split by file."""
    stats = corpus.CorpusStats()
    found = corpus.programs_from_tree(
        options.repo, source=options.repo.resolve().name, licence="own code", stats=stats, files=True,
        min_body=options.min_body, max_body=options.max_body, valid_fraction=0.0,
    )  # fmt: skip
    if not found:
        raise ValueError(
            f"no Python programs found under {options.repo} ({stats.files} readable files; skipped "
            f"{stats.skipped_files or 'none'}): retraining needs documented functions or small modules"
        )
    held = held_out_files([p.path for p in found], options.held_out, options.seed)
    if not held:
        raise ValueError(
            f"{options.repo} has Python code in a single file; retraining needs at least two files"
        )
    kept = corpus.deduplicate(split_programs(found, held), stats)
    info = {
        "files": stats.files,
        "held_out_files": len(held),
        "held_out": sorted(held),
        "skipped_files": stats.skipped_files,
        "dropped": stats.dropped,
    }
    return kept, info


def make_records(programs: list[corpus.Program], work: Path, options: RetrainOptions, log) -> dict:
    """LintSeq records of the train and held-out programs through the ``editseq lintseq`` job (resumable)."""
    from training.datagen import Options, run

    counts = {}
    for split, samples in (("train", options.samples), ("valid", 1)):
        source = work / f"{split}.programs.jsonl"
        output = work / f"{split}.lintseq.jsonl"
        write_jsonl(source, job_rows([p for p in programs if p.split == split]))
        summary = run(
            source, output, Options(samples=samples, seed=options.seed), workers=options.workers,
            progress=False, backend=options.backend, address=options.address,
        )  # fmt: skip
        counts[split] = {"programs": summary.records + summary.skipped, "bad": len(summary.bad)}
        log(f"  {split}: {summary.written} new sequences ({summary.skipped} programs already done) "
            f"in {summary.seconds:.1f} s")  # fmt: skip
    return counts


def retrain(options: RetrainOptions, *, log: Callable[[str], None] = print) -> dict:
    """Run (or resume) every stage; returns the report, also written as ``report.json`` and ``report.md``."""
    from training.datasets import read_records
    from training.evaluation.next_edit import cases_for
    from training.feedback import feedback_records, read_log
    from training.finetune import TrainConfig, latest_checkpoint, train

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
    programs_path = work / "programs.jsonl"
    info = _cached(work / "collect.json", lambda: _collect_to(programs_path, options))
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
            start.base,
            start.adapter,
            cases,
            valid_records,
            options,
            work / f"next-edit-before-{options.strategy}.jsonl",
            log,
        ),
    )

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
            start.base,
            out,
            cases,
            valid_records,
            options,
            work / f"next-edit-after-{options.strategy}.jsonl",
            log,
        ),
    )

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
        "before": before,
        "after": after,
        "stage_seconds": stages.seconds,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(render_report(report))
    return report


def _collect_to(path: Path, options: RetrainOptions) -> dict:
    programs, info = collect(options)
    corpus.write_programs(path, programs)
    return info


def install_model(final: Path, out: Path, config, options: RetrainOptions) -> None:
    """Copy the trained adapter and tokenizer into the model directory with a ``train_config.json`` that records
    the base, the format and where the data came from (``model_runtime.loading`` reads both)."""
    for item in final.iterdir():
        if item.is_file():
            shutil.copy2(item, out / item.name)
    recorded = config.to_json() | {"retrain": {"repo": str(options.repo.resolve()), "base": options.base}}
    (out / "train_config.json").write_text(json.dumps(recorded, indent=2) + "\n")


# --- command line -------------------------------------------------------------------------------------------------


def retrain_command(
    repo: Path = typer.Argument(..., help="The repository (a directory of Python code) to learn."),
    base: str = typer.Option(
        "default",
        help="Starting model: a registry name ('default': the default model; editseq-smollm2-135m-lintseq continues "
        "that adapter), a retrained model directory, or a causal LM directory.",
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Model directory to write (default: under ~/.cache/editseq/retrained/)."
    ),
    budget_minutes: float = typer.Option(10.0, min=0.1, help="Wall-clock cap on training (minutes)."),
    held_out: float = typer.Option(0.15, min=0.0, max=0.9, help="Share of files held out for evaluation."),
    samples: int = typer.Option(3, "-s", "--samples", min=1, help="LintSeq sequences per program."),
    suggestions_log: Path = typer.Option(
        None, help="The language server's suggestions log: accepted edits in this repository become data."
    ),
    workers: int = typer.Option(1, "-w", "--workers", min=1, help="LintSeq worker processes (or Ray CPUs)."),
    backend: str = typer.Option("local", help="LintSeq backend: local or ray."),
    address: str = typer.Option(None, help="Ray cluster address for --backend ray (default: a local Ray)."),
    eval_programs: int = typer.Option(12, min=1, help="Held-out programs in the next-edit benchmark."),
    k: int = typer.Option(4, min=1, help="Suggestions sampled per benchmark case."),
    strategy: str = typer.Option(
        "whole",
        help="Benchmark prompts: whole (as the server) or lintseq; another one rescores without retraining.",
    ),
    lr: float = typer.Option(2e-4, help="Learning rate (constant after warm-up)."),
    epochs: float = typer.Option(
        1.0, help="Passes over the training sequences (the budget may stop earlier)."
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps (evaluation)."),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)."),
    seed: int = typer.Option(0),
    fresh: bool = typer.Option(False, "--fresh", help="Delete --out's earlier work instead of resuming it."),
) -> None:
    """Retrain on a repository: its code -> LintSeq data -> LoRA finetune -> before/after report (resumable)."""
    from model_runtime.loading import ModelLoadError

    out = out or default_out(repo)
    if fresh:
        shutil.rmtree(out / "work", ignore_errors=True)
    options = RetrainOptions(
        repo=repo, out=out, base=base, budget_minutes=budget_minutes, held_out=held_out, samples=samples,
        seed=seed, workers=workers, backend=backend, address=address, suggestions_log=suggestions_log, lr=lr,
        epochs=epochs, eval_programs=eval_programs, k=k, strategy=strategy, device=device, threads=threads,
    )  # fmt: skip
    typer.echo(f"retraining on {repo} -> {out} (rerun the same command to resume)")
    try:
        report = retrain(options, log=lambda message: typer.echo(message))
    except (ValueError, ModelLoadError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo((out / "report.md").read_text())
    typer.echo(f"model: {report['model_dir']}")


def register(app: typer.Typer) -> None:
    """Add ``editseq retrain`` to the app."""
    app.command("retrain")(retrain_command)
