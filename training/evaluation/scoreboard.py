"""The table a finetuning decision reads: several models on the same benchmarks, each against a reference row.

A scoreboard is a small JSON file that names, for each model (a row), its results files from the three benchmarks
the product is judged by; paths are relative to the file::

    {"reference": "base",
     "ks": [1, 10],
     "next_edit_variant": "replay",
     "rows": [
        {"label": "base", "humaneval": "he-base.jsonl", "accept_until_done": "aud-base.jsonl",
         "next_edit": "ne-base.jsonl"},
        {"label": "LintSeq adapter", "humaneval": "he-adapter.jsonl"}]}

``scoreboard_markdown`` gives two Markdown tables: each row's scores (HumanEval pass@k, the share of well-formed edit
sequences for lintseq-mode runs, the accept-until-done pass rate, next-edit line F1, each with its case count), and
each row's paired differences from the reference row on the cases both scored, with bootstrap intervals
(`compare.paired_difference`, the same numbers as `editseq eval compare`, `accept-until-done-compare` and
`next-edit-compare`). A benchmark a row has no file for shows "-".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from training.evaluation import accept_until_done, git_next_edit
from training.evaluation.compare import Difference, paired_bootstrap
from training.evaluation.passk import mean_pass_at_k
from training.evaluation.results import read_records, well_formed_share

BENCHMARKS = ("humaneval", "accept_until_done", "next_edit")


@dataclass(frozen=True)
class Row:
    label: str
    files: dict[str, Path] = field(default_factory=dict)  # benchmark name -> results file


@dataclass(frozen=True)
class Scoreboard:
    rows: tuple[Row, ...]
    reference: str
    ks: tuple[int, ...] = (1, 10)
    next_edit_variant: str = "replay"


def load_scoreboard(path: Path) -> Scoreboard:
    """Read a scoreboard file; ValueError names what is wrong (not JSON, no rows, an unknown benchmark or reference,
    a results file that is not there)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read scoreboard {path}: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("rows"), list) or not raw["rows"]:
        raise ValueError(f"{path}: expected an object with a non-empty list 'rows'")
    rows = []
    for item in raw["rows"]:
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            raise ValueError(f"{path}: every row needs a 'label' ({item!r})")
        unknown = set(item) - {"label", *BENCHMARKS}
        if unknown:
            raise ValueError(f"{path}: row {item['label']!r} names unknown benchmarks {sorted(unknown)}")
        files = {name: Path(path).parent / item[name] for name in BENCHMARKS if item.get(name)}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise ValueError(f"{path}: row {item['label']!r}: no such results file {', '.join(missing)}")
        rows.append(Row(item["label"], files))
    labels = [r.label for r in rows]
    reference = raw.get("reference", labels[0])
    if reference not in labels:
        raise ValueError(f"{path}: the reference {reference!r} is not one of the rows {labels}")
    ks = tuple(int(k) for k in raw.get("ks", (1, 10)))
    return Scoreboard(tuple(rows), reference, ks, str(raw.get("next_edit_variant", "replay")))


def _records(row: Row, benchmark: str) -> list[dict] | None:
    path = row.files.get(benchmark)
    return read_records(path) if path is not None else None


def _next_edit_rows(records: list[dict] | None, variant: str) -> list[dict] | None:
    return None if records is None else [r for r in records if r.get("variant") == variant]


def scores(row: Row, board: Scoreboard) -> dict[str, str]:
    """One row's cells: pass@k and well-formed share (percent), accept-until-done pass rate, next-edit line F1."""
    cells = {}
    he = _records(row, "humaneval")
    for k in board.ks:
        usable = [(int(r["n"]), int(r["passed"])) for r in he or [] if int(r["n"]) >= k]
        cells[f"pass@{k}"] = f"{100 * mean_pass_at_k(usable, [k])[k]:.1f} ({len(usable)})" if usable else "-"
    share = well_formed_share(he) if he else None
    cells["well-formed"] = "-" if share is None else f"{100 * share:.1f}"
    aud = _records(row, "accept_until_done")
    cells["accept-until-done"] = (
        f"{100 * sum(bool(r['passed']) for r in aud) / len(aud):.1f} ({len(aud)})" if aud else "-"
    )
    ne = _next_edit_rows(_records(row, "next_edit"), board.next_edit_variant)
    cells["next edit"] = f"{sum(r['line_f1'] for r in ne) / len(ne):.3f} ({len(ne)})" if ne else "-"
    return cells


def differences(row: Row, reference: Row, board: Scoreboard) -> dict[str, Difference | None]:
    """``row`` - ``reference`` per benchmark on the cases both scored (None where either has no results or they
    share no case)."""
    out: dict[str, Difference | None] = {f"pass@{k}": None for k in board.ks}
    he_a, he_b = _records(row, "humaneval"), _records(reference, "humaneval")
    if he_a and he_b:
        try:
            out.update({f"pass@{d.k}": d for d in paired_bootstrap(he_a, he_b, board.ks)})
        except ValueError:
            pass
    out["accept-until-done"] = _or_none(
        accept_until_done.compare_pass,
        _records(row, "accept_until_done"),
        _records(reference, "accept_until_done"),
    )
    out["next edit"] = _or_none(
        git_next_edit.compare_line_f1,
        _records(row, "next_edit"),
        _records(reference, "next_edit"),
        board.next_edit_variant,
    )
    return out


def _or_none(compare, a, b, *args) -> Difference | None:
    if not a or not b:
        return None
    try:
        return compare(a, b, *args)
    except ValueError:  # no shared case
        return None


def _difference_cell(d: Difference | None, percent: bool) -> str:
    if d is None:
        return "-"
    scale, digits = (100, 1) if percent else (1, 3)
    return (
        f"{scale * d.delta:+.{digits}f} ({scale * d.low:+.{digits}f} to {scale * d.high:+.{digits}f}; "
        f"{d.problems})"
    )


def _table(head: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


def scoreboard_markdown(board: Scoreboard) -> str:
    """The scores table and the paired-differences table, Markdown, with a line saying how to read them."""
    columns = [f"pass@{k}" for k in board.ks] + ["well-formed", "accept-until-done", "next edit"]
    score_lines = [[row.label] + [scores(row, board)[c] for c in columns] for row in board.rows]
    reference = next(r for r in board.rows if r.label == board.reference)
    diff_columns = [c for c in columns if c != "well-formed"]
    diff_lines = []
    for row in board.rows:
        if row is reference:
            continue
        found = differences(row, reference, board)
        diff_lines.append([row.label] + [_difference_cell(found[c], c != "next edit") for c in diff_columns])
    text = (
        f"HumanEval pass@k, well-formed edit sequences and accept-until-done in percent, next edit = mean line F1 "
        f"({board.next_edit_variant}); the number of cases in parentheses.\n\n"
        + _table(["model", *columns], score_lines)
    )
    if diff_lines:
        text += (
            f"\n\nPaired differences from {board.reference} on the cases both scored (bootstrap 95 % interval; "
            "cases):\n\n" + _table(["model", *diff_columns], diff_lines)
        )
    return text
