"""The ``rewrite`` strategy (write, then decompose): the model completes the region around the cursor.

Through the chat template, an instruct model is shown the function (or region) at the cursor, the code above it
and the user's recent edits, and asked for the completed code in one Python code block; the assistant turn already
opens the block, so the answer is code up to the closing fence. The answer is aligned with the region
(``insertion_steps.align``): when every code line of the region survives in order, the lines it adds are an
insertion, decomposed into lint-clean insertion steps (``base.plan``). Answers that would delete or change buffer
lines are not offered; they are counted (``Proposals.non_insertions``).

What an instruct model adds around the function is trimmed: before it, only named imports that the buffer lacks and
the code uses are kept;
after a function or class, only the lines that continue its body (its example calls and printed tests are not part
of the completion).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from typing import Any

from model_runtime.generation import generate
from model_runtime.insertion_steps import align
from model_runtime.loading import LoadedModel
from model_runtime.strategies.base import Proposals, Request, insert_lines, plan
from model_runtime.strategies.region import focus

FENCE = "```"
ANSWER_HEAD = FENCE + "python\n"
INSTRUCTION = (
    "Complete the following Python code. Keep every line of it exactly as it is, in the same order, and only add "
    "lines. Answer with the complete code in one Python code block."
)
_HEADER = re.compile(r"\s*(@|def |async def |class )")
_IMPORT = re.compile(r"(import |from \S+ import )")


def prompt_text(loaded: LoadedModel, region: str, context: str = "", history: Sequence[str] = ()) -> str:
    """The rewrite prompt: recent edits and context first (they change least), the region last, then the answer's
    opening fence."""
    parts = []
    if history:
        parts.append("My recent edits to this file, oldest first:\n```diff\n" + "\n".join(history) + "\n```")
    parts.append(context_block(context))
    parts.append(f"{INSTRUCTION}\n```python\n{region}\n```")
    return chat_head(loaded, "\n\n".join(part for part in parts if part)) + ANSWER_HEAD


def context_block(context: str) -> str:
    """The code above the region, quoted for reference; "" when there is none."""
    if not context.strip():
        return ""
    return f"The code above it, for reference (do not repeat it):\n```python\n{context}\n```"


def chat_head(loaded: LoadedModel, user: str) -> str:
    """``user`` as the one user turn of the model's chat template, the assistant's turn opened; without a
    template, the message and a blank line."""
    tokenizer = loaded.tokenizer
    if getattr(tokenizer, "chat_template", None):
        turn = [{"role": "user", "content": user}]
        return tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
    return user + "\n\n"


def answer_lines(text: str) -> list[str]:
    """The code lines of an answer (the text up to the closing fence), without blank lines around them."""
    lines = text.split(FENCE, 1)[0].split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def trim_inserts(
    region: Sequence[str], inserts: list[tuple[int, tuple[str, ...]]], buffer_lines: Sequence[str]
) -> list[tuple[int, tuple[str, ...]]]:
    """Drop what an answer adds around the region but not to it (see the module docstring)."""
    code = [line for line in region if line.strip()]
    if not code:
        return inserts
    present = {line.strip() for line in buffer_lines}
    written = "\n".join([*region, *(x for at, lines in inserts if at != 0 for x in lines)])
    base = len(code[0]) - len(code[0].lstrip())
    compound = bool(_HEADER.match(code[0]))
    kept = []
    for at, lines in inserts:
        if at == 0:
            # A star import would also hide undefined names from pyflakes, so it is never kept.
            lines = tuple(
                x
                for x in lines
                if _IMPORT.match(x.strip())
                and "*" not in x
                and x.strip() not in present
                and _used(x, written)
            )
        elif at == len(region) and compound:
            end = next(
                (i for i, x in enumerate(lines) if x.strip() and len(x) - len(x.lstrip()) <= base), len(lines)
            )
            lines = lines[:end]
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        if lines:
            kept.append((at, lines))
    return kept


def _used(import_line: str, code: str) -> bool:
    """Whether a name the import binds appears in ``code`` (an unused import is noise, not a completion)."""
    try:
        (node,) = ast.parse(import_line.strip()).body
    except (SyntaxError, ValueError):
        return False
    names = [(alias.asname or alias.name).split(".")[0] for alias in node.names]  # type: ignore[attr-defined]
    return any(re.search(rf"\b{re.escape(name)}\b", code) for name in names)


def propose(loaded: LoadedModel, request: Request) -> Proposals:
    """Complete the region at the cursor; each answer that only adds lines becomes a plan of insertion steps."""
    lines = request.buffer.split("\n")
    where = focus(request.buffer, request.line, request.window, request.tree)
    region = lines[where.region.start : where.region.stop]
    context = "\n".join(lines[where.context.start : where.context.stop])
    text = prompt_text(loaded, "\n".join(region), context, request.history)
    repeated = len(loaded.tokenizer("\n".join(region), add_special_tokens=False)["input_ids"])
    result = answer(loaded, request, text, repeated)  # the answer repeats the region before adding to it
    return gather(result, request.buffer, where.region)


def answer(
    loaded: LoadedModel,
    request: Request,
    text: str,
    copied_tokens: int,
    stop_texts: tuple[str, ...] = (FENCE,),
    stop_at_start: tuple[str, ...] = (),
    not_first: tuple[str, ...] = (),
    line_stop=None,
):
    """The model's answers to the chat prompt ``text``, sampled as ``request`` asks, with room for
    ``copied_tokens`` of buffer text the answer may repeat besides the new lines (``generate`` for the stops)."""
    return generate(
        loaded,
        text,
        k=request.k,
        temperature=request.temperature,
        top_p=request.top_p,
        max_new_tokens=request.max_new_tokens + copied_tokens,
        stop="eos",
        stop_texts=stop_texts,
        stop_at_start=stop_at_start,
        not_first=not_first,
        line_stop=line_stop,
        cancel=request.cancel,
        on_token=request.on_token,
        seed=request.seed,
        cache_key=request.cache_key,
    )


NOT_AN_INSERTION = object()


def gather(
    result, buffer: str, region: range, written: str = "", rest: Callable[[Any], Sequence[str]] | None = None
) -> Proposals:
    """The plans the answers of ``result`` make (each answer is ``written`` + a candidate's text; ``rest(candidate)``
    the lines taken as kept after it, see ``plan_answer``), with the answers cut off by the token limit and the
    non-insertions counted."""
    outputs, malformed, non_insertions = [], 0, 0
    for candidate in result.candidates:
        if candidate.finish == "length":
            malformed += 1
            continue
        answer = answer_lines(written + candidate.text)
        planned = plan_answer(buffer, region, answer, candidate.mean_logprob, rest(candidate) if rest else ())
        if planned is NOT_AN_INSERTION:
            non_insertions += 1
        elif planned is not None:
            outputs.append(planned)
    return Proposals(outputs, result.timings, malformed=malformed, non_insertions=non_insertions)


def plan_answer(buffer: str, region: range, answer: Sequence[str], score: float, rest: Sequence[str] = ()):
    """The plan of insertion steps an answer (the region's lines, completed) makes of ``buffer``; None when it adds
    nothing, ``NOT_AN_INSERTION`` when it deletes or changes a line of the region. ``rest``: lines that may follow
    the answer when it stopped before the end of the region (they are taken as kept)."""
    lines = buffer.split("\n")
    span = lines[region.start : region.stop]
    inserts = align(span, answer)
    if inserts is None and rest:
        inserts = align(span, [*answer, *rest])
    if inserts is None:
        return NOT_AN_INSERTION
    inserts = trim_inserts(span, inserts, lines)
    final, added = insert_lines(lines, [(region.start + at, new) for at, new in inserts])
    return plan(buffer, final, added, score)
