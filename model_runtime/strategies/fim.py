"""The ``fim`` strategy: fill in the middle at the cursor with the model's FIM tokens.

The prompt is ``<|fim_prefix|>`` + the window's lines before the cursor + ``<|fim_suffix|>`` + its lines from the
cursor on + ``<|fim_middle|>`` (Qwen2.5-Coder's format); the model writes the middle. Whole lines are inserted
before the cursor line, so a last line that runs on into the suffix is dropped, and the middle is cut to the
longest run of whole lines after which the buffer parses (a complete block of statements). Recent edits, when
given, lead the prefix as a comment block.
"""

from __future__ import annotations

from collections.abc import Sequence

from model_runtime.generation import generate
from model_runtime.loading import LoadedModel
from model_runtime.repair import parses
from model_runtime.strategies.base import Proposals, Request, insert_lines, plan
from model_runtime.windows import window_span

PREFIX, SUFFIX, MIDDLE = "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"
# What ends a middle besides eos: the tokens a FIM model writes after it.
STOP_TEXTS = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>", "<|repo_name|>")


class NoFimTokens(ValueError):
    """The model's tokenizer has no fill-in-the-middle tokens."""


def history_comment(history: Sequence[str]) -> str:
    """Recent edits as a comment block that leads the prefix."""
    rows = [row for edit in history for row in edit.split("\n")]
    return "".join(f"# {row}\n" for row in ["Recent edits (unified diffs):", *rows])


def prompt_text(prefix: str, suffix: str) -> str:
    return f"{PREFIX}{prefix}{SUFFIX}{suffix}{MIDDLE}"


def middle_lines(text: str, lines: Sequence[str], at: int, runs_on: bool) -> list[str]:
    """The whole lines of a middle worth inserting before line ``at``: the longest run after which the buffer
    parses. ``runs_on``: the suffix starts with code, so a last line without its newline is not whole."""
    middle = text.split("\n")
    if runs_on and middle and middle[-1].strip():
        middle = middle[:-1]  # the line would continue into the suffix's first line
    while middle and not middle[-1].strip():
        middle.pop()
    for end in range(len(middle), 0, -1):
        if middle[end - 1].strip() and parses([*lines[:at], *middle[:end], *lines[at:]]):
            return middle[:end]
    return []


def missing_tokens(tokenizer) -> list[str]:
    """The FIM tokens ``tokenizer`` lacks. Looked up one by one: ``get_vocab()`` builds a Python dict of the whole
    vocabulary (151,936 entries for Qwen2.5: 0.12 s alone, 0.33 s in the busy server), with the GIL held, once per
    suggestion, which kept the language server's event loop from answering (docs/language-server.md)."""
    missing = []
    for token in (PREFIX, SUFFIX, MIDDLE):
        found = tokenizer.convert_tokens_to_ids(token)
        if found is None or (found == tokenizer.unk_token_id and token != tokenizer.unk_token):
            missing.append(token)
    return missing


def propose(loaded: LoadedModel, request: Request) -> Proposals:
    """Fill in the middle at the cursor line; each middle worth inserting becomes a plan of insertion steps."""
    missing = missing_tokens(loaded.tokenizer)
    if missing:
        raise NoFimTokens(
            f"the fim strategy needs the model's FIM tokens; {', '.join(missing)} not in its vocabulary"
        )
    lines = request.buffer.split("\n")
    at = len(lines) if request.line is None else max(0, min(request.line, len(lines)))
    spans = request.tree.spans() if hasattr(request.tree, "spans") else None
    shown = window_span(request.buffer, request.line, request.window, spans)
    prefix = "".join(line + "\n" for line in lines[shown.start : at])
    suffix = "\n".join(lines[at : max(shown.stop, at)])
    if request.history:
        prefix = history_comment(request.history) + prefix
    result = generate(
        loaded,
        prompt_text(prefix, suffix),
        k=request.k,
        temperature=request.temperature,
        top_p=request.top_p,
        max_new_tokens=request.max_new_tokens,
        stop="eos",
        stop_texts=STOP_TEXTS,
        cancel=request.cancel,
        on_token=request.on_token,
        seed=request.seed,
        cache_key=request.cache_key,
    )
    runs_on = at < len(lines) and bool(lines[at].strip())
    outputs, malformed = [], 0
    for candidate in result.candidates:
        middle = middle_lines(candidate.text, lines, at, runs_on)
        if not middle:
            malformed += 1
            continue
        final, added = insert_lines(lines, [(at, tuple(middle))])
        proposal = plan(request.buffer, final, added, candidate.mean_logprob)
        if proposal is not None:
            outputs.append(proposal)
    return Proposals(outputs, result.timings, malformed=malformed)
