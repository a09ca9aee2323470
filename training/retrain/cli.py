"""``editseq retrain``: the typer command over ``training.retrain.flow.retrain``."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from training.retrain.flow import retrain
from training.retrain.options import RetrainOptions, default_out


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
    budget_minutes: float = typer.Option(
        10.0, "--budget-minutes", "--max-minutes", min=0.1, help="Wall-clock cap on training (minutes)."
    ),
    held_out: float = typer.Option(0.15, min=0.0, max=0.9, help="Share of files held out for evaluation."),
    history_cases: int = typer.Option(
        24,
        min=0,
        help="The newest next edits of the repository's git history, held out: training reads the tree from "
        "before them, and the new model is kept only if it predicts them better than the starting model (0: "
        "decide on the held-out files instead).",
    ),
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
        repo=repo, out=out, base=base, budget_minutes=budget_minutes, held_out=held_out,
        history_cases=history_cases, samples=samples,
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
    typer.echo(outcome(report, base))


def outcome(report: dict, base: str) -> str:
    """The run's last line: ``model: DIR`` when the new model beat the starting one (the editor offers to switch
    to DIR), else ``candidate: DIR`` and then ``kept: ...`` with the figures (the editor keeps its model and offers
    DIR only as a choice against the advice)."""
    decided = report["verdict"]
    if decided["adopt"]:
        return f"model: {report['model_dir']}"
    return (
        f"candidate: {report['model_dir']}\n"
        f"kept: the starting model ({base}); the new one did not beat it on the {decided['yardstick']} (line F1 "
        f"{decided['after_line_f1']:.3f} against {decided['before_line_f1']:.3f}, {decided['cases']} cases). It "
        f"stays in {report['model_dir']} for a look."
    )


def register(app: typer.Typer) -> None:
    """Add ``editseq retrain`` to the app."""
    app.command("retrain")(retrain_command)
