"""The accept-until-done HumanEval benchmark: a user who only ever presses "accept next step", scored in the sandbox.

For each problem the buffer starts as its prompt (imports, signature, docstring). ``episode`` asks for the next
suggestion (``suggest(problem, buffer) -> SuggestResult``; the CLI calls ``model_runtime.suggestions.suggest``) and
accepts the top one a step at a time: a plan of several steps is accepted in order without another model call, as
the editor keeps a plan while the buffer is the one it expects; when the plan is used up it asks again. It stops when a call
offers nothing, when ``Budget.max_rounds`` calls or ``Budget.max_steps`` accepted steps are reached, and under the
``return`` rule (``UNTIL``) when a plan is used up and the entry point's body returns, yields or raises. The final
buffer then runs with the problem's tests in the sandbox. Rows are appended to a JSONL as problems finish and a rerun
resumes (``results.done_task_ids``: a different configuration is refused).

A record has ``n`` = 1 and ``passed`` 0/1, so ``editseq eval report`` and ``eval compare`` read it as pass@1 too.
"""

from __future__ import annotations

import ast
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from model_runtime import lint
from model_runtime.edits import parse_edit
from model_runtime.suggestions import Suggestion, SuggestResult, placements_for
from training.evaluation.compare import Difference, paired_difference
from training.evaluation.humaneval import Problem, check_program, preamble
from training.evaluation.results import append_record, done_task_ids, read_records
from training.evaluation.sandbox import Limits, run_program

Suggest = Callable[[Problem, str], SuggestResult]
# "nothing": ask again after every plan until a call offers nothing (the model's own "done"). "return": also stop
# once a plan is used up and the entry point's body returns, yields or raises: one call fewer per problem, but a
# LintSeq model that writes the ``return`` before the loop feeding it (a lint-clean order) is stopped half-way.
UNTIL = ("nothing", "return")
STOPS = ("no_suggestion", "returns", "max_rounds", "max_steps")


@dataclass(frozen=True)
class Budget:
    """How long the simulated user keeps going: model calls, and steps accepted in all."""

    max_rounds: int = 16
    max_steps: int = 40


@dataclass(frozen=True)
class Call:
    """One model call of an episode: its latency, what it offered and dropped, and the steps accepted from it."""

    seconds: float
    offered: int  # validated suggestions
    plan_steps: int  # steps of the top suggestion (1 for a single edit, 0 when none was offered)
    accepted: int
    dropped_malformed: int
    dropped_invalid: int
    non_insertions: int
    duplicates: int
    buffer_error: str | None
    new_tokens: int | None


@dataclass(frozen=True)
class Episode:
    """What the user ended with: the final buffer, the calls made, the steps accepted and why it stopped."""

    buffer: str
    calls: tuple[Call, ...]
    steps: int
    stop: str  # one of STOPS
    strategy: str = ""

    @property
    def offered_any(self) -> bool:
        return any(c.offered for c in self.calls)


def entry_function(buffer: str, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The last top-level function named ``entry_point`` in ``buffer``; None when there is none or it does not
    parse."""
    try:
        tree = ast.parse(buffer)
    except SyntaxError:
        return None
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point
    ]
    return found[-1] if found else None


def function_end_line(buffer: str, entry_point: str) -> int | None:
    """The 0-based last line of the entry point in ``buffer`` (``--cursor function``: there the lintseq strategy
    takes its instruction from the function's docstring); None when it is missing or the buffer does not parse."""
    node = entry_function(buffer, entry_point)
    return None if node is None else node.end_lineno - 1


def body_statements(buffer: str, entry_point: str) -> list[ast.stmt]:
    """The entry point's statements other than its docstring (none when it is missing or does not parse)."""
    node = entry_function(buffer, entry_point)
    if node is None:
        return []
    body = node.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    return body


_EXITS = (ast.Return, ast.Yield, ast.YieldFrom, ast.Raise)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def returns(buffer: str, entry_point: str) -> bool:
    """Whether the entry point's own body (not a nested function's) has a return, yield or raise."""
    pending: list[ast.AST] = [s for s in body_statements(buffer, entry_point) if not isinstance(s, _NESTED)]
    while pending:
        node = pending.pop()
        if isinstance(node, _EXITS):
            return True
        pending.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, _NESTED))
    return False


def stop_reason(
    buffer: str, entry_point: str, *, offered: bool, rounds: int, steps: int, budget: Budget, until: str
) -> str | None:
    """Why the user stops after a call's plan is used up (None: ask again). The order matters: a call that offered
    nothing ends the episode whatever the budget says."""
    if until not in UNTIL:
        raise ValueError(f"unknown stop rule {until!r}; choose one of {', '.join(UNTIL)}")
    if not offered:
        return "no_suggestion"
    if steps >= budget.max_steps:
        return "max_steps"
    if until == "return" and returns(buffer, entry_point):
        return "returns"
    if rounds >= budget.max_rounds:
        return "max_rounds"
    return None


def plan_programs(suggestion: Suggestion) -> list[str]:
    """The buffer after each step of a suggestion's plan (one program for a single edit)."""
    programs = [suggestion.program]
    for step in suggestion.steps[1:]:
        programs.append(placements_for(programs[-1], parse_edit(step))[1])
    return programs


def episode(
    problem: Problem, suggest: Suggest, *, budget: Budget = Budget(), until: str = "nothing"
) -> Episode:
    """Accept the top suggestion step by step from the problem's prompt until ``stop_reason`` says stop."""
    if budget.max_rounds < 1 or budget.max_steps < 1:
        raise ValueError("max_rounds and max_steps must be at least 1")
    buffer, steps, calls, strategy = problem.prompt, 0, [], ""
    while True:
        started = time.perf_counter()
        result = suggest(problem, buffer)
        seconds = time.perf_counter() - started
        strategy = result.strategy or strategy
        top = result.suggestions[0] if result.suggestions else None
        programs = plan_programs(top) if top is not None else []
        accepted = programs[: budget.max_steps - steps]
        if accepted:
            buffer = accepted[-1]
            steps += len(accepted)
        calls.append(
            Call(
                seconds=round(seconds, 4),
                offered=len(result.suggestions),
                plan_steps=len(programs),
                accepted=len(accepted),
                dropped_malformed=result.dropped_malformed,
                dropped_invalid=result.dropped_invalid,
                non_insertions=result.non_insertions,
                duplicates=result.duplicates,
                buffer_error=result.buffer_error,
                new_tokens=result.timings.new_tokens if result.timings else None,
            )
        )
        stop = stop_reason(
            buffer, problem.entry_point, offered=top is not None, rounds=len(calls), steps=steps,
            budget=budget, until=until,
        )  # fmt: skip
        if stop is not None:
            return Episode(buffer, tuple(calls), steps, stop, strategy)


def solution_of(problem: Problem, buffer: str) -> str:
    """The program to give ``check_program``, which puts the problem's preamble in front itself: the buffer without
    that preamble when it still starts with it; else (a step inserted lines inside it) the whole buffer, whose
    second copy of the imports and helpers is harmless."""
    head = preamble(problem)
    text = buffer.lstrip("\n")
    if head and text.startswith(head):
        return text[len(head) :].lstrip("\n")
    return buffer


def record_of(problem: Problem, run: Episode, config: dict, limits: Limits) -> dict:
    """One problem's results row: the episode and the final buffer's verdict in the sandbox."""
    program = solution_of(problem, run.buffer)
    result = run_program(check_program(problem, program), limits)
    model_s = sum(c.seconds for c in run.calls)
    return {
        "task_id": problem.task_id,
        "config": config,
        "n": 1,
        "passed": int(result.passed),
        "verdict": result.verdict.value,
        "detail": result.detail,
        "rounds": len(run.calls),
        "steps": run.steps,
        "stop": run.stop,
        "no_valid_suggestion": not run.offered_any,
        "body_written": bool(body_statements(run.buffer, problem.entry_point)),
        "model_s": round(model_s, 4),
        "exec_s": round(result.wall_s, 4),
        "strategy": run.strategy,
        "model": config.get("model"),
        "program": run.buffer,
        "calls": [asdict(c) for c in run.calls],
    }


def run_accept_until_done(
    problems: Sequence[Problem],
    suggest: Suggest,
    *,
    config: dict,
    out: Path,
    budget: Budget = Budget(),
    until: str = "nothing",
    limits: Limits = Limits(),
    log: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Run every problem not yet in ``out`` (a killed run resumes; another config raises ConfigMismatch) and return
    the records of ``problems`` in ``out``."""
    done = done_task_ids(out, config)
    todo = [p for p in problems if p.task_id not in done]
    log(f"{len(done)} problems already done in {out}, {len(todo)} to go")
    for i, problem in enumerate(todo, 1):
        record = record_of(problem, episode(problem, suggest, budget=budget, until=until), config, limits)
        append_record(out, record)
        log(
            f"[{i}/{len(todo)}] {problem.task_id}: {record['verdict']}, {record['steps']} steps in "
            f"{record['rounds']} calls ({record['model_s']:.1f} s), stopped: {record['stop']}"
        )
    wanted = {p.task_id for p in problems}
    return [r for r in read_records(out) if r["task_id"] in wanted]


def run_label(config: Mapping | None) -> str:
    """``model / strategy`` of a run's config, then the settings that differ from the defaults."""
    config = config or {}
    label = f"{Path(str(config.get('model') or 'model')).name} / {config.get('strategy') or 'default'}"
    extra = [
        f"{name}={config[key]}"
        for key, name, default in (("until", "until", "nothing"), ("cursor", "cursor", "end"), ("k", "k", 1))
        if config.get(key, default) != default
    ]
    extra += [f"T={config['temperature']:g}"] if config.get("temperature") else []
    return " ".join([label, *extra])


@dataclass(frozen=True)
class Summary:
    """One run's means; rates are fractions, times seconds (p50 over calls, and over accepted steps of the call's
    time divided by the steps accepted from it)."""

    label: str
    problems: int
    passed: float
    steps: float
    calls: float
    s_per_step_p50: float | None
    s_per_call_p50: float | None
    no_valid_suggestion: float


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(records: Iterable[dict]) -> list[Summary]:
    """One `Summary` per run label, in label order."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(run_label(record.get("config")), []).append(record)
    summaries = []
    for label, group in sorted(groups.items()):
        calls = [c for r in group for c in r["calls"]]
        per_step = [c["seconds"] / c["accepted"] for c in calls for _ in range(c["accepted"])]
        count = len(group)
        summaries.append(
            Summary(
                label,
                count,
                sum(r["passed"] for r in group) / count,
                sum(r["steps"] for r in group) / count,
                sum(r["rounds"] for r in group) / count,
                _median(per_step),
                _median([c["seconds"] for c in calls]),
                sum(bool(r["no_valid_suggestion"]) for r in group) / count,
            )
        )
    return summaries


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_summary(summaries: Sequence[Summary]) -> str:
    """A Markdown table, one row per run."""
    lines = [
        "| model / strategy | problems | pass | steps / problem | calls / problem | s / step (p50) "
        "| s / call (p50) | no valid suggestion |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.label} | {s.problems} | {100 * s.passed:.1f}% | {s.steps:.1f} | {s.calls:.1f} | "
            f"{_seconds(s.s_per_step_p50)} | {_seconds(s.s_per_call_p50)} | {100 * s.no_valid_suggestion:.1f}% |"
        )
    return "\n".join(lines)


def lint_regressions(records: Iterable[dict], prompts: dict[str, str]) -> list[str]:
    """Task ids whose accepted program has a pyflakes error its prompt did not have: what the editor's check is
    there to prevent (every accepted step was validated, so this should stay empty)."""
    return [
        r["task_id"]
        for r in records
        if r["task_id"] in prompts and lint.new_errors(prompts[r["task_id"]], r["program"])
    ]


def shared_records(records_a: Sequence[dict], records_b: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """The records of the tasks both runs finished, paired, in A's order."""
    by_task_b = {r["task_id"]: r for r in records_b}
    pairs = [(r, by_task_b[r["task_id"]]) for r in records_a if r["task_id"] in by_task_b]
    return [a for a, _ in pairs], [b for _, b in pairs]


def compare_pass(
    records_a: Sequence[dict],
    records_b: Sequence[dict],
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference:
    """Pass rate of A and B on the tasks both finished, A - B, with a paired bootstrap interval over those tasks
    (``Difference.problems``). Raises ValueError when they share no task."""
    a, b = shared_records(records_a, records_b)
    if not a:
        raise ValueError("the two runs share no task")
    return paired_difference(
        [float(r["passed"]) for r in a],
        [float(r["passed"]) for r in b],
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


def format_difference(d: Difference, confidence: float = 0.95) -> str:
    """A Markdown table of one pass-rate `Difference`, in percent."""
    return "\n".join(
        [
            f"| tasks | A pass | B pass | A - B | {confidence:.0%} interval | A above B in |",
            "|---|---|---|---|---|---|",
            f"| {d.problems} | {100 * d.a:.1f}% | {100 * d.b:.1f}% | {100 * d.delta:+.1f} | "
            f"{100 * d.low:+.1f} to {100 * d.high:+.1f} | {d.a_better:.0%} |",
        ]
    )
