"""``editseq eval accept-until-done|accept-until-done-compare|scoreboard``: the product benchmarks' commands.

Registered on the ``eval`` group by ``training.evaluation.cli.register``; torch and the runtime are imported inside
the command functions so that ``editseq --help`` stays fast.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import typer

from training.evaluation.common import fail, load_for_eval, log, select_problems


def register(group: typer.Typer) -> None:
    """Add the product benchmarks' commands to the ``eval`` group."""
    group.command("accept-until-done")(accept_until_done)
    group.command("accept-until-done-compare")(accept_until_done_compare)
    group.command("scoreboard")(scoreboard)


def accept_until_done(
    model: str = typer.Option(
        "default",
        help="A registry name (`editseq model list`; 'default' = the default model) or a model path.",
    ),
    strategy: str = typer.Option(None, help="lintseq, rewrite, continue or fim; default: the model's."),
    limit: int = typer.Option(None, min=1, help="Only the first N problems."),
    every: int = typer.Option(1, min=1, help="Only every Nth problem."),
    tasks: str = typer.Option(
        None, help="Only these comma-separated task ids, e.g. HumanEval/0,HumanEval/23."
    ),
    max_rounds: int = typer.Option(16, min=1, help="At most this many model calls per problem."),
    max_steps: int = typer.Option(40, min=1, help="At most this many accepted steps per problem."),
    until: str = typer.Option(
        "nothing",
        help="nothing: ask again after each plan until a call offers nothing; return: also stop once a plan is "
        "used up and the function returns, yields or raises (one call fewer; stops LintSeq orders early).",
    ),
    cursor: str = typer.Option(
        "end",
        help="end: suggest at the end of the buffer (line None); function: on the entry point's last line "
        "(the lintseq strategy then takes its instruction from the docstring).",
    ),
    k: int = typer.Option(1, min=1, help="Suggestions sampled per call; the top one is accepted."),
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy."),
    top_p: float = typer.Option(0.95, min=0.0, max=1.0),
    max_new_tokens: int = typer.Option(256, min=1),
    out: Path = typer.Option(None, help="Results JSONL (appended; an existing file is resumed)."),
    device: str = typer.Option("auto"),
    dtype: str = typer.Option("auto"),
    quantize: str = typer.Option(None, help="none or int8; default: as the editor loads the model."),
    seed: int = typer.Option(0),
    timeout: float = typer.Option(3.0, help="Wall-clock seconds per program in the sandbox."),
) -> None:
    """Accept the top suggestion step by step from each HumanEval prompt until done; run the result in the sandbox."""
    from model_runtime.strategies import resolve as resolve_strategy
    from model_runtime.suggestions import suggest
    from training.evaluation.accept_until_done import (
        UNTIL,
        Budget,
        format_summary,
        function_end_line,
        run_accept_until_done,
        summarise,
    )
    from training.evaluation.results import ConfigMismatch
    from training.evaluation.sandbox import Limits

    if until not in UNTIL:
        fail(f"--until takes one of {', '.join(UNTIL)}, got {until!r}")
    if cursor not in ("end", "function"):
        fail(f"--cursor takes end or function, got {cursor!r}")
    problems = select_problems(limit, every, tasks)
    loaded = load_for_eval(model, None, device, dtype, False, quantize)
    try:
        strategy = resolve_strategy(strategy, loaded)
    except ValueError as error:
        fail(str(error))

    def suggest_next(problem, buffer: str):
        line = function_end_line(buffer, problem.entry_point) if cursor == "function" else None
        # A seed from the buffer: a resumed run samples what an uninterrupted one did (and T = 0 ignores it).
        return suggest(
            loaded,
            buffer,
            line=line,
            k=k,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=seed * 100_003 + zlib.crc32(buffer.encode()) % 100_003,
            strategy=strategy,
        )

    config = {
        "benchmark": "accept-until-done",
        "model": loaded.name or loaded.source,  # the registry name when loaded by one (it names the adapter)
        "source": loaded.source,
        "adapter": loaded.adapter,
        "quantize": loaded.quantization,
        "strategy": strategy,
        "k": k,
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "max_rounds": max_rounds,
        "max_steps": max_steps,
        "until": until,
        "cursor": cursor,
        "seed": seed,
        "timeout": timeout,
    }
    name = Path(loaded.name or loaded.source).name
    out = out or Path("runs") / "eval" / f"accept-until-done-{name}-{strategy}.jsonl"
    try:
        records = run_accept_until_done(
            problems,
            suggest_next,
            config=config,
            out=out,
            budget=Budget(max_rounds, max_steps),
            until=until,
            limits=Limits(timeout_s=timeout),
            log=log,
        )
    except ConfigMismatch as error:
        fail(str(error))
    typer.echo(f"results: {out}")
    typer.echo(format_summary(summarise(records)))


def accept_until_done_compare(
    a: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Results JSONL of `accept-until-done`, run A."
    ),
    b: Path = typer.Argument(..., exists=True, dir_okay=False, help="Results JSONL of run B."),
    resamples: int = typer.Option(10_000, min=1, help="Bootstrap resamples of the tasks."),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Width of the interval."),
    seed: int = typer.Option(0, help="Seed of the resampling."),
) -> None:
    """Does A pass more problems than B? Both runs' summaries on the tasks both finished, the pass rate A - B and a
    paired bootstrap interval (the tasks resampled with replacement)."""
    from training.evaluation.accept_until_done import (
        compare_pass,
        format_difference,
        format_summary,
        lint_regressions,
        run_label,
        shared_records,
        summarise,
    )
    from training.evaluation.humaneval import load_problems
    from training.evaluation.results import read_records

    rows = {path: read_records(path) for path in (a, b)}
    for path, recs in rows.items():
        if not recs or recs[0].get("config", {}).get("benchmark") != "accept-until-done":
            fail(f"{path} has no results of `eval accept-until-done`")
    try:
        difference = compare_pass(rows[a], rows[b], resamples=resamples, confidence=confidence, seed=seed)
    except ValueError as error:
        fail(str(error))
    shared_a, shared_b = shared_records(rows[a], rows[b])
    for name, path in (("A", a), ("B", b)):
        typer.echo(f"{name}: {run_label(rows[path][0].get('config'))} ({path.name}, {len(rows[path])} tasks)")
    typer.echo(format_summary([*summarise(shared_a), *summarise(shared_b)]))
    typer.echo(format_difference(difference, confidence))
    prompts = {problem.task_id: problem.prompt for problem in load_problems()}
    for name, shared in (("A", shared_a), ("B", shared_b)):
        bad = lint_regressions(shared, prompts)
        typer.echo(
            f"{name}: {len(bad)} of {len(shared)} accepted programs add a pyflakes error to their prompt"
            + (f" ({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''})" if bad else "")
        )


def scoreboard(
    spec: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="Scoreboard JSON: rows of {label, humaneval, accept_until_done, next_edit} results files (paths relative "
        "to it), the reference row's label, ks.",
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the tables to this Markdown file."),
) -> None:
    """Several models side by side on HumanEval pass@k, accept-until-done and next edits from history, and each
    one's paired differences from the reference row (bootstrap intervals over the shared cases). The format of the
    JSON file: `training/evaluation/scoreboard.py`."""
    from training.evaluation.scoreboard import load_scoreboard, scoreboard_markdown

    try:
        text = scoreboard_markdown(load_scoreboard(spec))
    except ValueError as error:
        fail(str(error))
    typer.echo(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"written: {out}")
