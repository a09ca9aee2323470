"""What the ``editseq eval`` commands share: failing with a message, logging, loading the model under test, choosing
HumanEval problems (``cli``, ``product_cli`` and ``next_edit_cli`` import it; it imports none of them)."""

from __future__ import annotations

import typer


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def log(message: str) -> None:
    typer.echo(message, err=True)


def load_for_eval(
    model: str, adapter: str | None, device: str, dtype: str, trust_remote_code: bool, quantize: str = "none"
):
    """Load ``model`` (a registry name, ``default`` = the registry's default, or a path) and an optional adapter
    (``default`` = the LintSeq adapter in models/, trained on SmolLM2-135M: use it with ``smollm2-135m-instruct``,
    or name ``editseq-smollm2-135m-lintseq`` as the model)."""
    from model_runtime import default_model
    from model_runtime.loading import ModelLoadError, load_model

    try:
        if adapter == "default":
            adapter = str(default_model.adapter_dir())
        return load_model(
            model,
            device=device,
            dtype=dtype,
            adapter=adapter,
            trust_remote_code=trust_remote_code,
            quantize=quantize,
        )
    except ModelLoadError as error:
        fail(str(error))


def select_problems(limit: int | None, every: int, tasks: str | None) -> list:
    """The HumanEval problems asked for: the first ``limit``, every ``every``-th, only ``tasks`` (comma-separated
    task ids; an unknown one is an error)."""
    from training.evaluation.humaneval import load_problems

    problems = load_problems(limit=limit)[::every]
    if tasks:
        wanted = {t.strip() for t in tasks.split(",") if t.strip()}
        missing = wanted - {p.task_id for p in problems}
        if missing:
            fail(f"unknown task ids: {', '.join(sorted(missing))}")
        problems = [p for p in problems if p.task_id in wanted]
    return problems
