"""The ``editseq`` command line: one typer app, each command group defined next to the code it drives.

Modules register here lazily-importable commands; heavy libraries (torch, transformers) are imported inside the
command functions so that ``editseq --help`` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

app = typer.Typer(
    name="editseq",
    help="EditSeq: a local edit-prediction assistant for Python, trained on LintSeq edit sequences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(ctx: typer.Context) -> None:
    """Run the language server (stdio by default; see `editseq serve --help` for --tcp)."""
    # The server runs as its own program so that training code never shares a process with the editor's server.
    os.execv(sys.executable, [sys.executable, "-m", "lsp_server", *ctx.args])


from model_runtime.cli import register as _register_model_runtime  # noqa: E402

_register_model_runtime(app)

from training.datagen import register as _register_datagen  # noqa: E402

_register_datagen(app)

from training.train_cli import register as _register_training  # noqa: E402

_register_training(app)

from training.evaluation.cli import register as _register_evaluation  # noqa: E402

_register_evaluation(app)

from training.retrain.cli import register as _register_retrain  # noqa: E402

_register_retrain(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
