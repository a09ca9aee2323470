"""``editseq data ...``, ``editseq train`` and ``editseq pretrain``: thin typer commands over corpus, datasets, finetune.

torch and transformers are imported inside the commands so that ``editseq --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
from pathlib import Path

import typer


@contextlib.contextmanager
def _user_errors():
    """Turn a ValueError (bad input: data, settings, a run directory) into a one-line message and exit code 2."""
    try:
        yield
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


data_app = typer.Typer(help="Build training corpora and records (programs -> LintSeq / baseline records).")


@data_app.command("corpus")
def corpus_command(
    out: Path = typer.Option(..., "-o", "--out", help="Programs JSONL to write."),
    stdlib: bool = typer.Option(
        False, "--stdlib", help="Functions of the running Python's standard library (PSF)."
    ),
    tree: list[Path] = typer.Option(
        [], "--tree", help="A source tree (its .gitignore is respected); repeatable."
    ),
    package: list[str] = typer.Option(
        [],
        "--package",
        help="An installed distribution by name, or a wheel (.whl file or unpacked directory) by path; "
        "licence from its metadata. Repeatable.",
    ),
    jsonl: list[Path] = typer.Option(
        [], "--jsonl", help="JSONL rows with instruction and program; repeatable."
    ),
    licence: str = typer.Option("unknown", help="Licence recorded for --tree and --jsonl sources."),
    any_licence: bool = typer.Option(
        False, "--any-licence", help="Keep sources whose licence is not permissive."
    ),
    files: bool = typer.Option(
        False, "--files", help="Also whole small files (instruction: module docstring)."
    ),
    self_contained: bool = typer.Option(
        False,
        "--self-contained",
        help="Only functions that stand alone: pyflakes-clean with just the module imports they use (put above "
        "them); no methods, nested functions or module globals.",
    ),
    min_body: int = typer.Option(3, help="Fewest non-blank body lines of a function."),
    max_body: int = typer.Option(40, help="Most non-blank body lines of a function."),
    valid_fraction: float = typer.Option(
        0.02, help="Share of files held out for validation (split by file)."
    ),
    humaneval_filter: bool = typer.Option(True, help="Drop programs near a HumanEval prompt or solution."),
    manifest_out: Path | None = typer.Option(
        None, "--manifest", help="Write the per-source manifest JSON here."
    ),
) -> None:
    """Collect instruction/program pairs, remove duplicates and HumanEval look-alikes, and write them as JSONL."""
    from training import corpus, corpus_dedupe

    stats = corpus.CorpusStats()
    programs: list[corpus.Program] = []
    tree_options = dict(
        stats=stats,
        files=files,
        min_body=min_body,
        max_body=max_body,
        valid_fraction=valid_fraction,
        self_contained=self_contained,
    )
    sources: list[tuple[Path, str, str]] = []
    if stdlib:
        sources.append((corpus.stdlib_root(), *corpus.stdlib_source()))
    sources += [(root, root.name, licence) for root in tree]
    for name in package:
        try:
            sources.append(corpus.package_source(name))
        except (ValueError, OSError, importlib.metadata.PackageNotFoundError) as error:
            typer.echo(f"--package {name}: {error or 'not installed'}", err=True)
            raise typer.Exit(1) from None
    for root, source, source_licence in sources:
        if not any_licence and not corpus.is_permissive(source_licence):
            typer.echo(
                f"skipping {source}: licence {source_licence!r} is not permissive (--any-licence keeps it)"
            )
            continue
        programs += corpus.programs_from_tree(root, source=source, licence=source_licence, **tree_options)
    for path in jsonl:
        found = corpus.read_jsonl_programs(path, source=path.stem, licence=licence, stats=stats)
        programs += [p for p in found if any_licence or corpus.is_permissive(p.licence)]
    if not programs:
        typer.echo("no programs found; give --stdlib, --tree, --package or --jsonl", err=True)
        raise typer.Exit(1)
    kept = corpus_dedupe.deduplicate(programs, stats, against_humaneval=humaneval_filter)
    corpus.write_programs(out, kept)
    table = corpus.manifest(kept)
    if manifest_out:
        manifest_out.write_text(
            json.dumps(
                {"sources": table, "dropped": stats.dropped, "self_contained": self_contained}, indent=2
            )
            + "\n"
        )
    for row in table:
        typer.echo(
            f"{row['source']} ({row['licence']}): {row['programs']} programs from {row['files']} files"
        )
    typer.echo(f"{len(kept)} programs -> {out}; dropped {stats.dropped}; skipped files {stats.skipped_files}")


@data_app.command("records")
def records_command(
    programs: Path = typer.Argument(..., help="Programs JSONL from `editseq data corpus`."),
    out: Path = typer.Option(..., "-o", "--out", help="Records JSONL to write."),
    kind: str = typer.Option("lintseq", help="lintseq (edit sequences) or baseline (instruction + program)."),
    samples: int = typer.Option(5, "-s", "--samples", help="LintSeq samples per program."),
    seed: int = typer.Option(0, help="Sampling seed."),
    workers: int = typer.Option(1, help="Processes for LintSeq sampling."),
) -> None:
    """Turn programs into training records: LintSeq edit sequences or baseline instruction/program pairs."""
    from training.corpus import read_programs
    from training.datasets import baseline_records, lintseq_records, write_records

    items = read_programs(programs)
    if kind == "baseline":
        records, failed = baseline_records(items), 0
    elif kind == "lintseq":
        records, failed = lintseq_records(items, samples=samples, seed=seed, workers=workers)
    else:
        typer.echo(f"unknown kind {kind!r}; choose lintseq or baseline", err=True)
        raise typer.Exit(2)
    n = write_records(out, records)
    typer.echo(f"{n} {kind} records from {len(items)} programs ({failed} could not be sampled) -> {out}")


def train_command(
    data: Path = typer.Argument(
        ..., help="Records JSONL (rows with split == 'valid' are the validation set)."
    ),
    model: str = typer.Option(
        "default", help="A causal LM directory, or a registry name ('default': the registry's default model)."
    ),
    out: Path = typer.Option(
        ..., "-o", "--out", help="Run directory: checkpoints, metrics.jsonl, loss.png, final/."
    ),
    valid_data: Path | None = typer.Option(None, "--valid", help="Separate validation records JSONL."),
    fmt: str = typer.Option(
        "auto", "--format", help="auto (chat if the tokenizer has a template), chat or plain."
    ),
    full: bool = typer.Option(False, "--full", help="Full finetuning instead of LoRA."),
    lora_r: int = typer.Option(16, help="LoRA rank."),
    lora_alpha: int = typer.Option(32, help="LoRA alpha."),
    merge: bool = typer.Option(False, help="Also save the LoRA merged into the base (out/merged)."),
    lr: float = typer.Option(3e-4, help="Peak learning rate."),
    schedule: str = typer.Option("linear", help="linear, cosine or constant, after warm-up."),
    warmup: float = typer.Option(0.02, help="Warm-up as a fraction of the steps."),
    weight_decay: float = typer.Option(0.01),
    max_length: int = typer.Option(1024, help="Row length in tokens; longer examples are left out."),
    rows: int = typer.Option(2, help="Packed rows per micro-batch."),
    grad_accum: int = typer.Option(4, help="Micro-batches per optimizer step."),
    epochs: float = typer.Option(1.0),
    max_steps: int = typer.Option(0, help="Optimizer steps (overrides --epochs when > 0)."),
    eval_every: int = typer.Option(50),
    eval_rows: int = typer.Option(32, help="Validation rows evaluated each time."),
    save_every: int = typer.Option(25),
    keep: int = typer.Option(3, help="Checkpoints kept."),
    precision: str = typer.Option(
        "auto",
        help="auto, bf16 or fp32. auto: bf16 autocast where the CPU computes bf16 natively (AVX512-bf16, AMX; "
        "~1.7x fp32) or on a GPU, fp32 on a CPU that would emulate it (AVX2 only: several times slower).",
    ),
    seed: int = typer.Option(0),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue exactly from the latest checkpoint in --out."
    ),
    warm_start: Path | None = typer.Option(
        None, help="Continue from an adapter published by `editseq export` (weights, step; fresh optimizer)."
    ),
    trust_remote_code: bool = typer.Option(False, help="Allow code shipped with the model (off by default)."),
) -> None:
    """Finetune a causal LM on records (LoRA by default, or --full); checkpoints can be resumed with --resume."""
    from training.finetune import train
    from training.train_config import TrainConfig

    if model == "default":
        from model_runtime.registry import catalog

        # Recorded by name: "default" in a train_config.json means SmolLM2-135M (what it meant before the registry).
        model = catalog.load().default
    config = TrainConfig(
        model=model, data=str(data), out=str(out), valid_data=str(valid_data) if valid_data else None, format=fmt,
        lora=not full, lora_r=lora_r, lora_alpha=lora_alpha, merge=merge, lr=lr, weight_decay=weight_decay,
        schedule=schedule, warmup=warmup, max_length=max_length, rows=rows, grad_accum=grad_accum, epochs=epochs,
        max_steps=max_steps, eval_every=eval_every, eval_rows=eval_rows, save_every=save_every, keep=keep,
        precision=precision, seed=seed, threads=threads, trust_remote_code=trust_remote_code,
        warm_start=str(warm_start) if warm_start else None,
    )  # fmt: skip
    with _user_errors():
        final = train(config, resume=resume, log=typer.echo)
    typer.echo(f"final weights: {final}")


def pretrain_command(
    tree: Path = typer.Argument(..., help="A source tree of Python files."),
    out: Path = typer.Option(..., "-o", "--out", help="Run directory (init/, checkpoints, final/)."),
    vocab_size: int = typer.Option(4096, help="BPE vocabulary size (including <|diff|>)."),
    hidden: int = typer.Option(64),
    layers: int = typer.Option(2),
    heads: int = typer.Option(4),
    max_length: int = typer.Option(512),
    steps: int = typer.Option(200),
    lr: float = typer.Option(1e-3),
    seed: int = typer.Option(0),
    threads: int = typer.Option(0),
) -> None:
    """Train a byte-level BPE tokenizer and a small Llama from scratch on a source tree (next-token loss)."""
    from training.pretrain import TinyShape, pretrain

    shape = TinyShape(hidden=hidden, layers=layers, heads=heads, kv_heads=heads, intermediate=hidden * 2)
    with _user_errors():
        final = pretrain(
            tree, out, vocab_size=vocab_size, shape=shape, max_length=max_length, steps=steps, lr=lr, seed=seed,
            threads=threads, log=typer.echo,
        )  # fmt: skip
    typer.echo(f"final model: {final}")


def export_command(
    run: Path = typer.Argument(..., help="A run directory of `editseq train` (LoRA)."),
    to: Path = typer.Option(
        Path("models/editseq-smollm2-135m-lintseq"), "--to", help="Adapter directory to write."
    ),
    manifest: Path = typer.Option(Path("models/data-manifest.json"), help="Data manifest for the card."),
    notes: str = typer.Option(
        "", help="Extra text for the card's format section (e.g. the format measurement)."
    ),
    evaluation: list[Path] = typer.Option(
        None,
        "--evaluation",
        exists=True,
        dir_okay=False,
        help="HumanEval results JSONL (`editseq eval humaneval --out`) for the card's evaluation table; repeatable.",
    ),
    checkpoint: str = typer.Option(
        "latest",
        help="Which checkpoint: latest, best (lowest validation loss among those kept) or a name (checkpoint-000015).",
    ),
    scoreboard: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Scoreboard JSON (`editseq eval scoreboard`) whose tables go into the card's evaluation section.",
    ),
) -> None:
    """Copy a run's adapter checkpoint (< 25 MB) and its loss curve to --to, and write the model card."""
    from training.model_card import export

    with _user_errors():
        dest = export(
            run, to, manifest_path=manifest, notes=notes, evaluation=evaluation or (), checkpoint=checkpoint,
            scoreboard=scoreboard,
        )  # fmt: skip
    typer.echo(f"adapter and model card -> {dest}")


def register(app: typer.Typer) -> None:
    """Add ``data``, ``train``, ``pretrain`` and ``export`` to the ``editseq`` app."""
    from training.distill_cli import distill_command

    data_app.command("distill")(distill_command)
    app.add_typer(data_app, name="data")
    app.command("train")(train_command)
    app.command("pretrain")(pretrain_command)
    app.command("export")(export_command)
