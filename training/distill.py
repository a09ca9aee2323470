"""Self-distillation: the base model writes its own solutions to the corpus's instructions, and those that behave
like the original function become the training programs (then LintSeq sequences, as any corpus).

For each program of a corpus (``editseq data corpus``: a self-contained function, its signature and docstring as
the instruction) the model is asked, through the same instruct prompt as HumanEval's ``--mode code``, to write the
function, ``n`` times. A candidate is kept when it is lint-clean on its own, defines the function, and passes every
check that applies, run in the evaluation sandbox (generated code never runs outside it):

- the docstring's doctest examples, when it has any;
- the original function's behaviour: arguments drawn from a fixed pool of small values (numbers, strings, lists,
  tuples, dicts, None, booleans) for each required positional parameter, up to ``MAX_INPUTS`` calls on which the
  original returns in time; the candidate must return an equal value on every one (iterators compared by their
  first items). At least ``MIN_INPUTS`` such calls are needed for this check to count.

A function no check applies to (no doctest and fewer than ``MIN_INPUTS`` usable calls) is left out, counted as
"unverifiable". The first passing candidate replaces the original program; the rest of the row (instruction,
source, licence, path, split) is kept, so the split and the decontamination of the corpus carry over.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from model_runtime import lint
from training.corpus import Program
from training.evaluation.humaneval import FENCE, Problem, solution_program
from training.evaluation.sandbox import Limits, run_program

MIN_INPUTS = 3
MAX_INPUTS = 40
CALL_TIMEOUT_S = 0.5
MARKER = "@@editseq-distill-verdicts@@"

# The checks, run in the sandbox after a line that binds DATA (original, candidates, name, doc, limits).
_CHECKER = r"""
import copy, doctest, inspect, itertools, json, os, random, signal

_REPORT = os.fdopen(os.dup(1), "w")  # the verdicts' own copy of stdout: a function given 1 may close fd 1

POOL = [0, 1, 2, -3, 7, 2.5, "", "a", "abc", "a b c", "Hello, World", [], [1, 2, 3], [3, 1, 2, 2], ["b", "a"],
        (1, 2), {"a": 1, "b": 2}, None, True, False]


class _Slow(Exception):
    pass


def _alarm(signum, frame):
    raise _Slow()


signal.signal(signal.SIGALRM, _alarm)


def _load(source):
    namespace = {"__name__": "candidate"}
    exec(compile(source, "<candidate>", "exec"), namespace)
    return namespace


def _call(function, args):
    signal.setitimer(signal.ITIMER_REAL, DATA["call_timeout_s"])
    try:
        value = function(*copy.deepcopy(args))
        if hasattr(value, "__next__"):
            value = list(itertools.islice(value, 50))
        return value
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:
        return repr(a) == repr(b)


def _inputs(original):
    try:
        parameters = inspect.signature(original).parameters.values()
    except (TypeError, ValueError):
        return []
    arity = sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    rng = random.Random(0)
    tries = [()] if arity == 0 else [tuple(rng.choice(POOL) for _ in range(arity)) for _ in range(200)]
    usable, seen = [], set()
    for args in tries:
        if repr(args) in seen:
            continue
        seen.add(repr(args))
        try:
            usable.append((args, _call(original, args)))
        except BaseException:
            continue
        if len(usable) >= DATA["max_inputs"]:
            break
    return usable


def _doctest(namespace):
    test = doctest.DocTestParser().get_doctest(DATA["doc"], namespace, DATA["name"], "<doc>", 0)
    runner = doctest.DocTestRunner(verbose=False)
    signal.setitimer(signal.ITIMER_REAL, 5 * DATA["call_timeout_s"])
    try:
        runner.run(test, out=lambda _: None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return runner.failures == 0 and runner.tries > 0


def _verdict(source, usable):
    try:
        namespace = _load(source)
        function = namespace[DATA["name"]]
    except BaseException as exc:
        return {"ok": False, "reason": f"does not load: {type(exc).__name__}"}
    checks = []
    if ">>>" in DATA["doc"]:
        try:
            passed = _doctest(namespace)
        except BaseException:
            passed = False
        if not passed:
            return {"ok": False, "reason": "fails its doctest"}
        checks.append("doctest")
    if len(usable) >= DATA["min_inputs"]:
        for args, expected in usable:
            try:
                got = _call(function, args)
            except BaseException:
                return {"ok": False, "reason": "raises where the original returns"}
            if not _same(got, expected):
                return {"ok": False, "reason": "differs from the original"}
        checks.append(f"{len(usable)} calls")
    if not checks:
        return {"ok": False, "reason": "unverifiable"}
    return {"ok": True, "reason": ", ".join(checks)}


try:
    _usable = _inputs(_load(DATA["original"])[DATA["name"]])
except BaseException:
    _usable = []
_verdicts = json.dumps([_verdict(source, _usable) for source in DATA["candidates"]])
print("\n" + DATA["marker"] + _verdicts, file=_REPORT, flush=True)
"""


@dataclass(frozen=True)
class Outcome:
    """What became of one corpus program: the program to train on (None when no candidate passed) and why."""

    key: str
    program: Program | None
    reasons: tuple[str, ...]  # one per candidate, in order
    generations: tuple[str, ...] = ()  # what the model wrote, kept in the log to see why answers fail

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "kept": self.program is not None,
            "reasons": list(self.reasons),
            "generations": list(self.generations),
            **({"program": self.program.to_json()} if self.program else {}),
        }


def key_of(program: Program) -> str:
    return f"{program.source}:{program.path}::{program.name}"


def imports_of(source: str) -> str:
    """The top-level import statements of ``source``, as written."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    return "\n".join(
        ast.get_source_segment(source, node) or ""
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    )


def problem_for(program: Program) -> Problem:
    """The program as a HumanEval-style problem: its imports, then its signature and docstring (the instruction)."""
    head = imports_of(program.program)
    prompt = (head + "\n\n\n" if head else "") + program.instruction.strip("\n") + "\n"
    return Problem(task_id=key_of(program), prompt=prompt, entry_point=program.name, test="")


def as_generation(program: Program) -> list[str]:
    """The program itself as the one answer (``--originals``: what the checks can verify of the corpus)."""
    return [program.program + "\n" + FENCE]


def candidate_source(program: Program, generated: str) -> str | None:
    """The candidate program of one generation (the code block's definitions), or None when it cannot be one:
    it does not parse, has a pyflakes error on its own, or does not define the function."""
    source = solution_program(problem_for(program), "code", generated).strip("\n")
    tree = lint.parse_or_none(source)
    if tree is None or lint.errors(source):
        return None
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    return source if program.name in defined else None


def docstring_of(instruction: str) -> str:
    """The docstring of an instruction (a signature and docstring); "" when it has none or does not parse."""
    try:
        node = ast.parse(instruction + "\n    pass").body[0]
        return (
            ast.get_docstring(node) or "" if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else ""
        )
    except (SyntaxError, IndexError, ValueError):
        return ""


def verify(program: Program, candidates: Sequence[str], limits: Limits) -> list[dict]:
    """The sandbox's verdict on each candidate (``{"ok", "reason"}``), in order."""
    if not candidates:
        return []
    doc = docstring_of(program.instruction)
    data = {
        "original": program.program,
        "candidates": list(candidates),
        "name": program.name,
        "doc": doc,
        "min_inputs": MIN_INPUTS,
        "max_inputs": MAX_INPUTS,
        "call_timeout_s": CALL_TIMEOUT_S,
        "marker": MARKER,
    }
    result = run_program(
        f"import json\nDATA = json.loads({json.dumps(json.dumps(data))})\n" + _CHECKER, limits
    )
    # Functions that print share stdout with the verdicts: they come on their own line, after a marker.
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    try:
        verdicts = json.loads(lines[-1][len(MARKER) :])
        if isinstance(verdicts, list) and len(verdicts) == len(candidates):
            return verdicts
    except (IndexError, json.JSONDecodeError):
        pass
    return [{"ok": False, "reason": f"check did not finish: {result.verdict.value}"}] * len(candidates)


Generate = Callable[[Program], list[str]]  # a program -> the generations for its instruction


def distill(
    programs: Iterable[Program],
    generate: Generate,
    *,
    limits: Limits = Limits(timeout_s=30.0),
    done: frozenset[str] = frozenset(),
) -> Iterable[Outcome]:
    """Each program not in ``done``, in order: its model-written replacement, or why none passed."""
    for program in programs:
        key = key_of(program)
        if key in done:
            continue
        generations = generate(program)
        sources = [candidate_source(program, text) for text in generations]
        checked = verify(program, [s for s in sources if s is not None], limits)
        verdicts = iter(checked)
        reasons = []
        kept = None
        for source in sources:
            verdict = (
                next(verdicts) if source is not None else {"ok": False, "reason": "not a clean definition"}
            )
            reasons.append(verdict["reason"])
            if verdict["ok"] and kept is None:
                kept = replace(program, program=source)
        yield Outcome(key, kept, tuple(reasons), tuple(generations))
