"""The report of a retraining run: the figures compared before and after, and ``report.md``."""

from __future__ import annotations


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
    lines += history_lines(report)
    lines += [
        "",
        "## Use it",
        "",
        ("Set" if report["verdict"]["adopt"] else "Not recommended (above); to try it anyway, set")
        + " the editor's `editseq.modelPath` to this directory (the server reloads without a restart), or run "
        f"`editseq suggest --model {report['model_dir']} FILE`.",
        "",
        f"Wall time: {report['seconds']:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in report['stage_seconds'].items())}).",
        "",
    ]
    return "\n".join(lines)


def history_lines(report: dict) -> list[str]:
    """The yardstick section: held-out next edits from the git history before and after, and the verdict."""
    plan, decided = report["history"], report["verdict"]
    lines = ["", "## Held-out next edits from the git history", ""]
    if plan.get("cut"):
        before, after = report["before"]["history"], report["after"]["history"]
        lines += [
            f"The newest {plan['cases']} insertions of the history (training read the tree at `{plan['cut']}`, "
            "from before all of them); the top greedy suggestion, as the editor first shows it.",
            "",
            "| model | cases | offered | top-1 exact | line F1 |",
            "|---|---|---|---|---|",
        ]
        for name, row in (("before", before), ("after", after)):
            lines.append(
                f"| {name} | {row['cases']} | {100 * row['offered']:.1f}% | {100 * row['exact']:.1f}% | "
                f"{row['line_f1']:.3f} |"
            )
    else:
        lines.append(f"None ({plan['reason']}): the held-out files' cases decide.")
    verdict = "**use the new model**" if decided["adopt"] else "**keep the starting model**"
    lines += [
        "",
        f"Verdict on the {decided['yardstick']}: {verdict}. Mean line F1 after - before = "
        f"{decided['difference']:+.3f} (95 % interval {decided['low']:+.3f} to {decided['high']:+.3f}, "
        f"{decided['cases']} cases, paired bootstrap); the new model is kept only when it is above.",
    ]
    return lines
