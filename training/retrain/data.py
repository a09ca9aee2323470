"""The data of a retraining run: the repository's programs (functions and whole small files), deduplicated and
split by file into train and held-out, and their LintSeq records through the ``editseq lintseq`` job."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

from training import corpus, corpus_dedupe
from training.jsonl import write_jsonl
from training.retrain.options import RetrainOptions


def held_out_files(paths: Sequence[str], fraction: float, seed: int = 0) -> frozenset[str]:
    """The files to hold out: a seeded hash order of the paths, the first ``fraction`` of them (at least one).

    Stable under renaming other files, and independent of the order the paths come in.
    """
    unique = sorted(set(paths))
    if len(unique) < 2:
        return frozenset()
    ranked = sorted(unique, key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    count = min(len(unique) - 1, max(1, round(fraction * len(unique))))
    return frozenset(ranked[:count])


def split_programs(programs: Sequence[corpus.Program], held_out: frozenset[str]) -> list[corpus.Program]:
    """The programs with ``split`` set by file: ``valid`` for held-out files, ``train`` for the rest."""
    return [dataclasses.replace(p, split="valid" if p.path in held_out else "train") for p in programs]


def job_rows(programs: Sequence[corpus.Program]) -> list[dict]:
    """Input rows of the LintSeq job: a stable id (file and function), the instruction and the program."""
    return [
        {
            "id": f"{p.path}::{p.name}" if p.name else p.path,
            "instruction": p.instruction,
            "response": p.program,
        }
        for p in programs
    ]


def collect(options: RetrainOptions) -> tuple[list[corpus.Program], dict]:
    """The repository's programs (functions and whole small files), deduplicated and split by file."""
    stats = corpus.CorpusStats()
    found = corpus.programs_from_tree(
        options.repo, source=options.repo.resolve().name, licence="own code", stats=stats, files=True,
        min_body=options.min_body, max_body=options.max_body, valid_fraction=0.0,
    )  # fmt: skip
    if not found:
        raise ValueError(
            f"no Python programs found under {options.repo} ({stats.files} readable files; skipped "
            f"{stats.skipped_files or 'none'}): retraining needs documented functions or small modules"
        )
    held = held_out_files([p.path for p in found], options.held_out, options.seed)
    if not held:
        raise ValueError(
            f"{options.repo} has Python code in a single file; retraining needs at least two files"
        )
    kept = corpus_dedupe.deduplicate(split_programs(found, held), stats)
    info = {
        "files": stats.files,
        "held_out_files": len(held),
        "held_out": sorted(held),
        "skipped_files": stats.skipped_files,
        "dropped": stats.dropped,
    }
    return kept, info


def make_records(programs: list[corpus.Program], work: Path, options: RetrainOptions, log) -> dict:
    """LintSeq records of the train and held-out programs through the ``editseq lintseq`` job (resumable)."""
    from training.datagen import Options, run

    counts = {}
    for split, samples in (("train", options.samples), ("valid", 1)):
        source = work / f"{split}.programs.jsonl"
        output = work / f"{split}.lintseq.jsonl"
        write_jsonl(source, job_rows([p for p in programs if p.split == split]))
        summary = run(
            source, output, Options(samples=samples, seed=options.seed), workers=options.workers,
            progress=False, backend=options.backend, address=options.address,
        )  # fmt: skip
        counts[split] = {"programs": summary.records + summary.skipped, "bad": len(summary.bad)}
        log(f"  {split}: {summary.written} new sequences ({summary.skipped} programs already done) "
            f"in {summary.seconds:.1f} s")  # fmt: skip
    return counts


def collect_to(path: Path, options: RetrainOptions) -> dict:
    """``collect`` into the programs file at ``path``; returns what the collection found (files, held out, skipped)."""
    programs, info = collect(options)
    corpus.write_programs(path, programs)
    return info
