"""What ends a candidate while ``generation`` decodes it, token by token.

A candidate ends at eos, at the end of the next edit or of the LintSeq sequence (``stop``), at any of ``stop_texts``,
when it begins with one of ``stop_at_start``, or when ``line_stop`` says a line it has just completed rules it out
(a strategy that knows no such line can lead to an answer it could offer stops decoding there). ``Rules.take``
applies them all to each new token and streams the new text to the listener.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Tokens decoded again at each step to look for a stop text (more for a longer stop text).
STOP_TEXT_TAIL = 16


@dataclass
class Row:
    """One candidate being decoded: its tokens, their log-probabilities and how it finished ("" while it runs)."""

    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    since_separator: list[int] = field(default_factory=list)
    finish: str = ""
    emitted: str = ""
    lines_checked: int = 0  # complete lines already shown to ``line_stop``


@dataclass(frozen=True)
class Rules:
    """One call's stop rules and listener: what ends a candidate, and who hears of its new text.

    ``line_stop(lines)`` gets the candidate's complete lines so far each time a line is completed (the last one is
    new) and returns True to end the candidate there, its text kept as written.
    """

    tokenizer: Any
    diff_id: int
    stop_ids: frozenset[int]
    stop: str
    stop_texts: tuple[str, ...]
    stop_at_start: tuple[str, ...]
    on_token: Callable[[int, str], None] | None
    line_stop: Callable[[list[str]], bool] | None = None

    def take(self, row: Row, index: int, token_id: int, logprob: float) -> bool:
        """Append a token to candidate ``index``, stream it, and say whether the candidate has finished."""
        row.ids.append(token_id)
        row.logprobs.append(logprob)
        row.finish = finish(row, token_id, self.diff_id, self.stop_ids, self.stop, self.tokenizer)
        if not row.finish and self.stop_texts and ends_with_stop(row.ids, self.stop_texts, self.tokenizer):
            row.finish = "stop"
        if (
            not row.finish
            and self.stop_at_start
            and starts_with_stop(row.ids, self.stop_at_start, self.tokenizer)
        ):
            row.finish = "stop"
        if not row.finish and self.line_stop is not None and self._line_rules_out(row, token_id):
            row.finish = "stop"
        if self.on_token is not None:
            stream(row, index, self.tokenizer, self.on_token)
        return bool(row.finish)

    def _line_rules_out(self, row: Row, token_id: int) -> bool:
        """Whether a line the token completes is one ``line_stop`` rules out (decoded only at a newline)."""
        if "\n" not in self.tokenizer.decode([token_id], skip_special_tokens=False):
            return False
        lines = self.tokenizer.decode(row.ids, skip_special_tokens=False).split("\n")[:-1]
        while row.lines_checked < len(lines):
            row.lines_checked += 1
            if self.line_stop(lines[: row.lines_checked]):
                return True
        return False


def finish(row: Row, token_id: int, diff_id: int, stop_ids: frozenset[int], stop: str, tokenizer) -> str:
    """How ``token_id`` ends the row ("eos", "stop"), or "" when it does not."""
    if token_id in stop_ids:
        return "eos"
    if token_id == diff_id:
        if stop == "edit":
            return "stop"
        # Two separators with nothing between them close a LintSeq sequence.
        closing = not tokenizer.decode(row.since_separator).strip()
        row.since_separator = []
        return "stop" if closing else ""
    row.since_separator.append(token_id)
    return ""


def ends_with_stop(ids: list[int], stop_texts: tuple[str, ...], tokenizer) -> bool:
    # Every token holds at least one character, so this many tokens hold the longest stop text (a whole line).
    width = max(STOP_TEXT_TAIL, max(map(len, stop_texts)) + 1)
    tail = tokenizer.decode(ids[-width:], skip_special_tokens=False)
    return any(text in tail for text in stop_texts)


def starts_with_stop(ids: list[int], stop_at_start: tuple[str, ...], tokenizer) -> bool:
    # Only while the output is short enough to be one of them (every token holds at least one character).
    if len(ids) > max(map(len, stop_at_start)):
        return False
    text = tokenizer.decode(ids, skip_special_tokens=False)
    return any(text.startswith(start) for start in stop_at_start)


def stream(row: Row, index: int, tokenizer, on_token: Callable[[int, str], None]) -> None:
    text = tokenizer.decode(row.ids, skip_special_tokens=False)
    if text.startswith(row.emitted) and len(text) > len(row.emitted):
        on_token(index, text[len(row.emitted) :])
        row.emitted = text
