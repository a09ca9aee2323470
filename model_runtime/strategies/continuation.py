"""The ``continue`` strategy: the model's answer is pre-filled with the region up to the cursor, and goes on from there.

The model is shown the code above the region, the head of the function or class being written (``Outline.head``) and
the lines that follow the cursor, and its answer (one Python code block) already holds the region's lines before
the cursor, so it writes only from the cursor on instead of copying the region first: a suggestion costs the new
lines, not the whole function. When the model, done adding, starts to repeat the first line after the cursor, it is
stopped there and the rest of the region is taken as kept (when it repeats that line at once, it has nothing to
add, and is stopped before copying the rest). An answer that goes on past that line without repeating it has
changed it: the token budget leaves no room to copy the rest, and an answer that writes a longer line from further
down first (it skips lines), or a line after which it cannot come back (``divergence``), is stopped there; none of
these is offered. At the end of a function that has only its
signature and docstring, the answer may not close the code block at once: a stub is what a user asks to have
completed (the 0.5B model closed it on 3 of 164 HumanEval prompts). The answer then goes through ``rewrite``'s
alignment and decomposition unchanged (``rewrite.plan_answer``): only insertions are offered, as lint-clean steps;
an answer that changes a line of the buffer is counted, not offered.

The prompt is laid out for the per-document prompt cache (``generation``), which reuses the prompt up to its first
changed token: what changes least comes first (the code above, the head, the lines after the cursor, counted from
the cursor so that a line typed at it leaves them as they are) and the lines just typed come last, at the end of the
pre-filled answer. The question shows the head, not the whole region as ``rewrite``'s does: the region changes with
every line typed. Without the head (the answer alone holding the function) the model wrote worse bodies: 52 against
56 of the first 81 HumanEval problems passed accept-until-done (docs/strategies.md). The recent edits (Diff
History) would change with every edit at the top of the prompt, so this strategy leaves them out (``rewrite`` and
``fim`` show them).
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass

from model_runtime.loading import LoadedModel
from model_runtime.strategies.base import Proposals, Request
from model_runtime.strategies.divergence import line_stop
from model_runtime.strategies.region import Focus, focus
from model_runtime.strategies.rewrite import ANSWER_HEAD, FENCE, answer, chat_head, context_block, gather
from model_runtime.strategies.rewrite import INSTRUCTION as COMPLETE_INSTRUCTION

AFTER_LINES = 20  # lines after the cursor the prompt shows (the region's rest is taken as kept when repeated)
INSTRUCTION = (
    "Continue the Python code your answer starts with: add the lines that come next, keeping every line already "
    "written exactly as it is. Answer in one Python code block."
)
SKIP_AHEAD_CHARS = 16  # shorter lines (`else:`, `break`, `return x`) are often written again as new lines
FOLLOWING = "After the lines you add, the code goes on with these lines, already written; write them too:"


def split_at_cursor(region: list[str], cursor: int) -> tuple[list[str], list[str]]:
    """The region's lines before the cursor (trailing blank lines dropped) and from the cursor on."""
    before, after = region[:cursor], region[cursor:]
    while before and not before[-1].strip():
        before = before[:-1]
    return before, after


def is_stub(lines: list[str]) -> bool:
    """Whether ``lines`` are one function with nothing in its body but a docstring."""
    try:
        body = ast.parse(textwrap.dedent("\n".join(lines))).body
    except SyntaxError:
        return False
    if len(body) != 1 or not isinstance(body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    inner = body[0].body
    return len(inner) == 1 and isinstance(inner[0], ast.Expr) and isinstance(inner[0].value, ast.Constant)


def prompt_text(loaded: LoadedModel, written: str, following: str, context: str = "", head: str = "") -> str:
    """The continue prompt: the code above, the instruction with the ``head`` of the function or class being
    written (``Outline.head``), the lines after the cursor (``following``), then the answer pre-filled with ``written``
    (the region up to the cursor, each line ending with its newline)."""
    ask = f"{COMPLETE_INSTRUCTION}\n```python\n{head}\n```" if head.strip() else INSTRUCTION
    if following.strip():
        ask += f"\n{FOLLOWING}\n```python\n{following}\n```"
    user = "\n\n".join(part for part in (context_block(context), ask) if part)
    return chat_head(loaded, user) + ANSWER_HEAD + written


@dataclass(frozen=True)
class Layout:
    """What ``propose`` shows the model for a request: the prompt ``text``, the region's lines before the cursor
    (``before``, pre-filled in the answer as ``written``) and from the cursor on (``after``), ``where``, and the
    code of the enclosing top-level statement up to the cursor (``code_before``)."""

    text: str
    before: list[str]
    after: list[str]
    where: Focus
    code_before: str = ""

    @property
    def written(self) -> str:
        return pre_filled(self.before)


def pre_filled(before: list[str]) -> str:
    """The answer's pre-filled text: the lines before the cursor, each ending with its newline (without it, the
    model tends to extend the last line, a comment after it, which changes a buffer line)."""
    return "".join(line + "\n" for line in before)


def layout(loaded: LoadedModel, request: Request) -> Layout:
    """The continue prompt for ``request`` (see the module docstring for its order)."""
    lines = request.buffer.split("\n")
    where = focus(request.buffer, request.line, request.window, request.tree)
    region = lines[where.region.start : where.region.stop]
    at = len(lines) if request.line is None else max(0, min(request.line, len(lines)))
    before, after = split_at_cursor(region, max(0, min(at - where.region.start, len(region))))
    context = "\n".join(lines[where.context.start : where.context.stop])
    shown_after = lines[at : min(where.unit.stop, at + AFTER_LINES)]
    while shown_after and not shown_after[0].strip():
        shown_after.pop(0)
    head = "\n".join(lines[where.head.start : where.head.stop])
    text = prompt_text(loaded, pre_filled(before), "\n".join(shown_after).rstrip(), context, head)
    code_before = "".join(line + "\n" for line in lines[where.unit.start : at])
    return Layout(text, before, after, where, code_before)


def propose(loaded: LoadedModel, request: Request) -> Proposals:
    """Continue the region from the cursor; each answer that only adds lines becomes a plan of insertion steps."""
    shown = layout(loaded, request)
    text, written, before, after, where = shown.text, shown.written, shown.before, shown.after, shown.where
    coming = [line.rstrip() for line in after if line.strip()]  # the region's code lines after the cursor
    following = coming[0] if coming else None
    rejoin = None if following is None else f"\n{following}\n"
    # A longer line that the region has further down, written before the next one: the answer skips lines (not an
    # insertion), and is stopped there rather than decoded on.
    skips = tuple(
        f"\n{line}\n"
        for line in coming[1:AFTER_LINES]
        if len(line.strip()) >= SKIP_AHEAD_CHARS and line != following
    )
    stops = (FENCE, *skips) if rejoin is None else (FENCE, *skips, rejoin)
    # The model may also repeat the next line at once: nothing to add, and no reason to copy the rest.
    starts = () if following is None else (f"{following}\n", *(skip[1:] for skip in skips))
    # No room to copy the region's rest: an answer that goes on past the line after the cursor without repeating
    # it exactly has changed it (not an insertion), and decoding it on would only cost time.
    closing = () if following is not None or not is_stub(before) else (FENCE,)
    # A line after which the answer cannot come back to the next line (a dedent, a docstring closed) ends it too.
    ruled_out = line_stop(shown.code_before, following)
    result = answer(loaded, request, text, 0, stops, starts, not_first=closing, line_stop=ruled_out)

    def rest(candidate) -> list[str]:
        """The region's lines after the cursor when the model stopped at their first line, else none."""
        if following is None:
            return []
        raw = loaded.tokenizer.decode(list(candidate.token_ids), skip_special_tokens=False)
        repeated = (
            raw.startswith(starts[0])
            if not candidate.text
            else raw[len(candidate.text) :].startswith(str(rejoin))
        )
        return after if repeated else []

    return gather(result, request.buffer, where.region, written, rest)
