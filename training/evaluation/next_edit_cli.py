"""``editseq eval next-edit`` (the synthetic LintSeq benchmark, or ``--git``: next edits from a repository's
history) and ``editseq eval next-edit-compare``."""

from __future__ import annotations

from pathlib import Path

import typer

from training.evaluation.common import fail, load_for_eval, log
from training.evaluation.next_edit import DEFAULT_STRATEGIES, STRATEGIES


def register(group: typer.Typer) -> None:
    """Add the next-edit commands to the ``eval`` group."""
    group.command("next-edit")(next_edit)
    group.command("next-edit-compare")(next_edit_compare)


def next_edit(
    paths: list[Path] = typer.Argument(
        None, exists=True, help="Corpus JSONL (valid split) or Python files/dirs (not with --git)."
    ),
    git: Path = typer.Option(
        None,
        exists=True,
        file_okay=False,
        help="Cases from this repository's git history instead: code its commits inserted (docs/evaluation.md).",
    ),
    rev: str = typer.Option(
        "HEAD", help="--git: the revision or range whose commits to read (git log syntax)."
    ),
    limit: int = typer.Option(None, min=1, help="--git: at most this many cases, newest commits first."),
    variants: str = typer.Option(
        "plain,replay",
        help="--git: plain (the parent's file) and/or replay (the commit's other hunks first).",
    ),
    strategy: str = typer.Option(
        None,
        help="--git: the runtime's suggestion strategy (lintseq, fim, rewrite, continue); default: the model's.",
    ),
    cases_only: bool = typer.Option(
        False,
        "--cases-only",
        help="--git: build the cases, print how many and why others were skipped; no model.",
    ),
    model: str = typer.Option(
        "default",
        help="A registry name (`editseq model list`; 'default' = the default model), model directory, .gguf file "
        "or hub id.",
    ),
    adapter: str = typer.Option(None, help="LoRA adapter directory; 'default' = the EditSeq adapter."),
    strategies: str = typer.Option(
        ",".join(DEFAULT_STRATEGIES),
        help=f"Comma-separated strategies to compare: {', '.join(STRATEGIES)} (whole and lintseq are the lintseq "
        "strategy's prompt modes; continue, rewrite and fim are given the cursor where the true edit goes).",
    ),
    history_length: int = typer.Option(
        3,
        min=1,
        help="Previous diffs given in the '+history' strategies (--git: the replay variant's last ones).",
    ),
    programs: int = typer.Option(20, min=1, help="At most this many programs."),
    steps: int = typer.Option(3, min=1, help="Cases (steps) per program."),
    k: int = typer.Option(4, min=1, help="Suggestions sampled per case."),
    temperature: float = typer.Option(0.8, min=0.0),
    top_p: float = typer.Option(0.95, min=0.0, max=1.0),
    max_new_tokens: int = typer.Option(128, min=1),
    all_splits: bool = typer.Option(
        False, help="Use every record of a corpus JSONL, not only the valid split."
    ),
    out: Path = typer.Option(None, help="Per-case results JSONL (appended; an existing file is resumed)."),
    device: str = typer.Option("auto"),
    dtype: str = typer.Option("auto"),
    quantize: str = typer.Option(
        None, help="none or int8; default: as the editor loads the model (the registry's CPU choice)."
    ),
    seed: int = typer.Option(0),
    trust_remote_code: bool = typer.Option(False),
) -> None:
    """Compare prompt strategies on held-out programs: exact next edit, hit@k, line F1, validity, latency.

    With --git: the top suggestion against code really inserted by a repository's commits, per variant."""
    if git is not None:
        if paths:
            fail("give either PATHS or --git, not both")
        _next_edit_git(
            git, rev, limit, variants, strategy, cases_only, model, adapter, history_length, k, temperature,
            top_p, max_new_tokens, out, device, dtype, quantize, seed, trust_remote_code,
        )  # fmt: skip
        return
    if not paths:
        fail("give corpus JSONL files or Python files/dirs, or --git REPO")
    from model_runtime.suggestions import suggest as suggest_edits
    from training.evaluation.next_edit import (
        AT_CURSOR,
        cases_for,
        format_summary,
        load_programs,
        run_next_edit,
        strategy_options,
        summarise_rows,
    )

    chosen = [s.strip() for s in strategies.split(",") if s.strip()]
    try:
        options = {s: strategy_options(s, history_length) for s in chosen}
    except ValueError as error:
        fail(str(error))
    found = load_programs(paths, all_splits=all_splits)
    if not found:
        fail("no programs found (a corpus JSONL contributes only its 'valid' split unless --all-splits)")
    cases = [
        c
        for pid, ins, prog in found[:programs]
        for c in cases_for(pid, ins, prog, seed=seed, max_steps=steps)
    ]
    if not cases:
        fail("the programs gave no cases (each needs at least two LintSeq steps)")
    loaded = load_for_eval(model, adapter, device, dtype, trust_remote_code, quantize)

    def run_one(case, strategy):
        name, history = options[strategy]
        at_cursor = name in AT_CURSOR
        return suggest_edits(
            loaded,
            case.buffer,
            line=case.cursor if at_cursor else None,
            instruction=case.instruction,
            history=case.history[-history:] if history else (),
            k=k,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            mode="whole" if at_cursor else name,
            strategy=name if at_cursor else "lintseq",
            seed=seed,
        )

    out = out or Path("runs") / "eval" / f"next-edit-{Path(loaded.source).name}.jsonl"
    config = {
        "model": loaded.source,
        "adapter": loaded.adapter,
        "quantize": loaded.quantization,
        "k": k,
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "history_length": history_length,
        "seed": seed,
    }
    from training.evaluation.results import ConfigMismatch

    try:
        rows = run_next_edit(cases, chosen, run_one, k=k, config=config, out=out, log=log)
    except ConfigMismatch as error:
        fail(str(error))
    typer.echo(f"results: {out} ({len(cases)} cases from {min(len(found), programs)} programs)")
    typer.echo(format_summary(summarise_rows(rows), k))


def _next_edit_git(
    repo, rev, limit, variants, strategy, cases_only, model, adapter, history_length, k, temperature, top_p,
    max_new_tokens, out, device, dtype, quantize, seed, trust_remote_code,
) -> None:  # fmt: skip
    """`eval next-edit --git`: build cases from the history, suggest for each (case, variant), print the summary."""
    import subprocess

    from model_runtime.suggestions import suggest as suggest_edits
    from training.evaluation.git_history import VARIANTS, build_cases
    from training.evaluation.git_next_edit import format_summary, run_git_next_edit, summarise
    from training.evaluation.git_symbols import case_symbols
    from training.evaluation.results import ConfigMismatch

    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    if not chosen or set(chosen) - set(VARIANTS):
        fail(f"--variants takes a comma-separated subset of {', '.join(VARIANTS)}, got {variants!r}")
    try:
        cases, stats = build_cases(repo, rev, limit=limit)
    except subprocess.CalledProcessError as error:
        fail(f"git failed on {repo}: {error.stderr.decode(errors='replace').strip()}")
    skipped = ", ".join(f"{reason}: {n}" for reason, n in stats.skipped.most_common()) or "none"
    (typer.echo if cases_only else log)(
        f"{len(cases)} cases, {sum(c.has_history for c in cases)} of them with history (their replay differs "
        f"from plain); {stats.commits} commits, {stats.files} modified .py files, {stats.hunks} hunks, "
        f"{stats.insertions} insertions of 1-12 lines; skipped: {skipped}"
    )
    if cases_only:
        return
    if not cases:
        fail("the history gave no cases (pure insertions of 1-12 lines of code into .py files)")
    loaded = load_for_eval(model, adapter, device, dtype, trust_remote_code, quantize)
    # Only named when asked for, so that a runtime without strategies still runs the model's default.
    named = {"strategy": strategy} if strategy else {}

    def suggest_case(case, variant):
        buffer, cursor, history = case.view(variant)
        return suggest_edits(
            loaded,
            buffer,
            line=cursor,
            history=history[-history_length:],
            k=k,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=seed,
            **case_symbols(repo, case, variant),  # the workspace as it stood, for the import quick fix
            **named,
        )

    out = (
        out or Path("runs") / "eval" / f"next-edit-git-{repo.resolve().name}-{Path(loaded.source).name}.jsonl"
    )
    config = {
        "benchmark": "next-edit-git",
        "repo": str(repo.resolve()),
        "rev": rev,
        "model": loaded.source,
        "adapter": loaded.adapter,
        "quantize": loaded.quantization,
        "strategy": strategy,
        "k": k,
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "history_length": history_length,
        "seed": seed,
    }
    try:
        rows = run_git_next_edit(cases, chosen, suggest_case, config=config, out=out, log=log)
    except (ConfigMismatch, ValueError) as error:
        fail(str(error))
    typer.echo(f"results: {out} ({len(cases)} cases)")
    typer.echo(format_summary(summarise(rows)))


def next_edit_compare(
    a: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Results JSONL of `next-edit --git`, run A."
    ),
    b: Path = typer.Argument(
        None,
        exists=True,
        dir_okay=False,
        help="Results JSONL of run B (default: A, to compare its variants).",
    ),
    variant: str = typer.Option("replay", help="A's variant (and B's, unless --b-variant)."),
    b_variant: str = typer.Option(None, help="B's variant, e.g. `A --variant replay --b-variant plain`."),
    resamples: int = typer.Option(10_000, min=1, help="Bootstrap resamples of the cases."),
    confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Width of the interval."),
    seed: int = typer.Option(0, help="Seed of the resampling."),
) -> None:
    """Is A better than B at the git next-edit benchmark? Mean line F1 of both on the cases both scored, A - B,
    and a paired bootstrap interval (the cases resampled with replacement)."""
    from training.evaluation.git_next_edit import compare_line_f1, format_difference, run_label
    from training.evaluation.results import read_records

    b = b or a
    rows = {path: read_records(path) for path in (a, b)}
    for path, recs in rows.items():
        if not recs or "variant" not in recs[0]:
            fail(f"{path} has no results of `eval next-edit --git`")
    try:
        difference = compare_line_f1(
            rows[a], rows[b], variant, b_variant, resamples=resamples, confidence=confidence, seed=seed
        )
    except ValueError as error:
        fail(str(error))
    for name, path, which in (("A", a, variant), ("B", b, b_variant or variant)):
        typer.echo(f"{name}: {run_label(rows[path][0].get('config'))}, {which} ({path.name})")
    typer.echo(format_difference(difference, f"{variant} - {b_variant or variant}", confidence))
