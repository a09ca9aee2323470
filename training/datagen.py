"""``editseq lintseq``: stream a JSONL file of programs into LintSeq edit-sequence records, resumably.

Each good input line yields ``samples`` output lines ``{"id", "sample", "instruction", "edits", "text"}`` in input
order, so the output does not depend on the worker count: every sample's seed is derived from (seed, id, sample).
Bad input lines (not JSON, missing or non-string field, a program that does not parse, a repeated id) are counted
and reported with their line numbers at the end; they never stop the run.

Resuming: the output is opened for appending and each record's lines go out in one ``write`` call; on start, a torn
last line (a kill in the middle of a write) is cut off and every (id, sample) already present is skipped, so a
killed run rerun with the same arguments ends with each record exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer

from model_runtime.edits import training_text
from training import lintseq

FSYNC_EVERY_S = 2.0  # a kill loses at most this much finished work to the page cache (not to corruption)
REPORT_LINES = 20


@dataclass(frozen=True)
class Options:
    samples: int = 5
    code_field: str = "response"
    instruction_field: str = "instruction"
    seed: int = 0
    ignore_imports: bool = False


@dataclass
class Outcome:
    """What became of one input line: output lines (serialised), or why it was rejected."""

    line_no: int
    payload: bytes = b""  # the output lines, ready to append
    count: int = 0
    error: str | None = None


def sample_seed(seed: int, record_id: object, sample: int) -> int:
    """The seed of one sample: a stable hash of (seed, id, sample), independent of the order of processing."""
    key = json.dumps([seed, record_id, sample], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def extract_code(response: str, language: str = "python") -> str:
    """The code of a response: its fenced ``` ```python ``` blocks joined, or the whole text when it has none (as the
    reference does, so chat-style datasets work unchanged)."""
    fence = f"```{language}"
    chunks = []
    rest = response
    while fence in rest:
        rest = rest[rest.index(fence) + len(fence) :]
        end = rest.find("```")
        chunks.append(rest if end < 0 else rest[:end])
        rest = "" if end < 0 else rest[end + 3 :]
    return "\n".join(chunks).strip() if chunks else response


def record_id(line_no: int, data: dict) -> object:
    """The input's ``id`` if it has one, else its 1-based line number."""
    return data["id"] if "id" in data else line_no


def read_record(line_no: int, line: str, options: Options) -> tuple[object, str, str]:
    """(id, instruction, program) of one input line; raises ValueError saying what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    fields = [options.code_field] + ([options.instruction_field] if options.instruction_field else [])
    for name in fields:
        if name not in data:
            raise ValueError(f"missing field {name!r}")
        if not isinstance(data[name], str):
            raise ValueError(f"field {name!r} is not a string")
    ident = record_id(line_no, data)
    if isinstance(ident, (dict, list)):
        raise ValueError("field 'id' must be a string or a number")
    instruction = data[options.instruction_field] if options.instruction_field else ""
    return ident, instruction, extract_code(data[options.code_field])


def process_line(line_no: int, line: str, options: Options, skip: frozenset[int] = frozenset()) -> Outcome:
    """Sample the edit sequences of one input line, leaving out the sample numbers in ``skip``."""
    try:
        ident, instruction, program = read_record(line_no, line, options)
        prepared = lintseq.prepare(program, ignore_imports=options.ignore_imports)
    except ValueError as exc:
        return Outcome(line_no, error=str(exc))
    rows = []
    try:
        for k in range(options.samples):
            if k in skip:
                continue
            (walk,) = lintseq.sample(prepared, samples=1, seed=sample_seed(options.seed, ident, k))
            edits = walk.edits()
            record = {
                "id": ident,
                "sample": k,
                "instruction": instruction,
                "edits": edits,
                "text": training_text(instruction, edits),
            }
            rows.append(json.dumps(record, ensure_ascii=False) + "\n")
    except (RecursionError, MemoryError) as exc:  # an absurdly nested program: one bad line, not a dead run
        return Outcome(line_no, error=f"program too deeply nested to sample ({type(exc).__name__})")
    return Outcome(line_no, "".join(rows).encode("utf-8"), len(rows))


def finished_samples(output: Path) -> dict[str, set[int]]:
    """(id -> sample numbers) already in ``output``; cuts off a torn last line left by a kill mid-write."""
    done: dict[str, set[int]] = {}
    if not output.exists():
        return done
    with output.open("r+b") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            f.truncate(end)
    for raw in data[:end].splitlines():
        try:
            row = json.loads(raw)
            done.setdefault(_key(row["id"]), set()).add(int(row["sample"]))
        except (ValueError, KeyError, TypeError):
            continue  # not ours; leave it alone rather than lose data
    return done


def _key(ident: object) -> str:
    return json.dumps(ident)


def _peek_id(line_no: int, line: str) -> str | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return _key(record_id(line_no, data)) if isinstance(data, dict) else None


# Worker processes receive the options once, through the pool's initializer.
_options: Options | None = None


def _init_worker(options: Options) -> None:
    global _options
    _options = options


def _work(task: tuple[int, str, frozenset[int]]) -> Outcome:
    return process_line(task[0], task[1], _options, task[2])


@dataclass
class Summary:
    records: int = 0
    written: int = 0
    skipped: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


def run(
    source: Path,
    output: Path,
    options: Options,
    *,
    workers: int = 1,
    progress: bool = True,
    on_record=None,
    backend: str = "local",
    address: str | None = None,
) -> Summary:
    """Stream ``source`` into ``output``; see the module docstring. ``on_record`` sees every written record."""
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    done = finished_samples(output)
    summary = Summary()
    seen: set[str] = set()
    all_samples = frozenset(range(options.samples))

    def tasks() -> Iterator[tuple[int, str, frozenset[int]]]:
        with source.open(encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                key = _peek_id(line_no, line)
                if key is not None:
                    if key in seen:
                        summary.bad.append((line_no, f"repeated id {key}"))
                        bar.update(1)
                        continue
                    seen.add(key)
                    skip = frozenset(done.get(key, ())) & all_samples
                    if skip == all_samples:
                        summary.skipped += 1
                        bar.update(1)
                        continue
                else:
                    skip = frozenset()
                yield line_no, line, skip

    total = _count_lines(source)
    fd = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    last_sync = time.monotonic()
    bar = _progress_bar(total, progress)
    try:
        for outcome in _outcomes(tasks(), options, workers, backend, address):
            bar.update(1)
            if outcome.error is not None:
                summary.bad.append((outcome.line_no, outcome.error))
                continue
            summary.records += 1
            if outcome.payload:
                _write_all(fd, outcome.payload)  # one record, one write: a kill tears at most the last line
                summary.written += outcome.count
                if on_record is not None:
                    for row in outcome.payload.decode("utf-8").splitlines():
                        on_record(json.loads(row))
            if time.monotonic() - last_sync > FSYNC_EVERY_S:
                os.fsync(fd)
                last_sync = time.monotonic()
        os.fsync(fd)
    finally:
        os.close(fd)
        bar.close()
    summary.bad.sort()
    summary.seconds = time.perf_counter() - started
    return summary


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def _outcomes(
    tasks: Iterator, options: Options, workers: int, backend: str = "local", address: str | None = None
) -> Iterator[Outcome]:
    if backend == "ray":
        from training.scale import ray_outcomes

        yield from ray_outcomes(tasks, process_line, options, workers=workers, address=address)
        return
    if backend != "local":
        raise ValueError(f"unknown backend {backend!r}; choose local or ray")
    if workers <= 1:
        for task in tasks:
            yield process_line(task[0], task[1], options, task[2])
        return
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(
        workers, initializer=_init_worker, initargs=(options,)
    ) as pool:
        # imap keeps input order, so the output is the same whatever the worker count.
        yield from pool.imap(_work, tasks, chunksize=16)


def _count_lines(path: Path) -> int:
    """Non-blank lines: what the progress bar counts (processed, skipped or bad)."""
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="rec", desc="lintseq", disable=not enabled, dynamic_ncols=True)


def show_record(console, record: dict) -> None:
    """Print one record readably: its instruction, then each edit as a highlighted diff."""
    from rich.panel import Panel
    from rich.syntax import Syntax

    title = f"id {record['id']} · sample {record['sample']} · {len(record['edits'])} edits"
    console.rule(title)
    if record["instruction"]:
        console.print(Panel(record["instruction"], title="instruction", expand=False))
    for n, edit in enumerate(record["edits"], start=1):
        console.print(f"[bold]edit {n}[/bold]")
        console.print(Syntax(edit, "diff", theme="ansi_dark", background_color="default"))


def register(app: typer.Typer) -> None:
    """Add ``editseq lintseq`` to the app."""
    app.command("lintseq")(lintseq_command)


def lintseq_command(
    source: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Input JSONL, one program per line."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Output JSONL (appended to; finished records skipped)."
    ),
    samples: int = typer.Option(5, "-s", "--samples", min=1, help="Edit sequences per program."),
    code_field: str = typer.Option("response", help="Field holding the program."),
    instruction_field: str = typer.Option("instruction", help="Field holding the instruction ('' for none)."),
    workers: int = typer.Option(1, "-w", "--workers", min=1, help="Worker processes."),
    seed: int = typer.Option(
        0, help="Random seed; the output is the same for a seed whatever the worker count."
    ),
    ignore_imports: bool = typer.Option(
        False, help="Never pick import lines (they arrive in the first edit)."
    ),
    overwrite: bool = typer.Option(False, help="Start the output afresh instead of resuming it."),
    backend: str = typer.Option(
        "local", help="local (worker processes) or ray (a Ray cluster; the same records for the same seed)."
    ),
    address: str = typer.Option(
        None,
        help="Ray cluster address (host:6379 or 'auto'); without it Ray starts locally with --workers CPUs.",
    ),
    show: bool = typer.Option(False, help="Print each sequence readably as it is written."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    """Turn programs into LintSeq edit sequences (training data), streaming and resumable."""
    from rich.console import Console

    console = Console()
    err = Console(stderr=True)
    options = Options(samples, code_field, instruction_field, seed, ignore_imports)
    on_record = (lambda record: show_record(console, record)) if show else None
    if overwrite:
        output.unlink(missing_ok=True)
    if backend not in ("local", "ray"):
        err.print(f"unknown backend {backend!r}; choose local or ray")
        raise typer.Exit(2)
    summary = run(
        source, output, options, workers=workers, progress=not quiet and not show, on_record=on_record,
        backend=backend, address=address,
    )  # fmt: skip
    err.print(
        f"{summary.records} programs -> {summary.written} sequences written to {output} "
        f"({summary.skipped} already done) in {summary.seconds:.1f} s"
    )
    if summary.bad:
        err.print(f"[yellow]{len(summary.bad)} bad input lines:[/yellow]")
        for line_no, reason in summary.bad[:REPORT_LINES]:
            err.print(f"  line {line_no}: {reason}", markup=False)
        if len(summary.bad) > REPORT_LINES:
            err.print(f"  ... and {len(summary.bad) - REPORT_LINES} more")
