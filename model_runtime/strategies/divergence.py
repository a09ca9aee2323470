"""Lines that rule out an insertion at the cursor, so that ``continue`` stops decoding an answer as soon as it writes one.

``continue``'s answer adds lines at the cursor and is offered only when it then comes back to the buffer's next code
line (``following``) exactly. Decoding on after a line that makes that return impossible, or all but impossible,
costs seconds for an answer that is never offered (docs/speed.md). Two such lines:

- the cursor is inside a string (a docstring being written) and the answer closes a triple-quoted string: the
  buffer's next line is inside that string, so it cannot follow code;
- the answer writes a code line indented less than ``following`` that does not open a block (no ``:`` at its end):
  ``following`` right after it would be an unexpected indent. (An answer could still open a block later and come
  back at ``following``'s indentation; that is rare, and such an answer is given up.)

Nothing is ruled out when the cursor is inside brackets (a line's indentation means nothing there), when the code
before the cursor does not tokenize, or inside brackets the answer itself has opened.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable

TRIPLE_QUOTES = ('"""', "'''")
_OPENS_BLOCK = re.compile(r":\s*(#.*)?$")


def open_at_end(text: str) -> str | None:
    """What ``text`` leaves open at its end: "string" (a multi-line string), "brackets", "error" (it does not
    tokenize), or None."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except tokenize.TokenError as error:
        message = str(error.args[0] if error.args else error)
        if "string" in message:
            return "string"
        return "brackets" if "statement" in message else "error"
    except (SyntaxError, ValueError):  # IndentationError is a SyntaxError
        return "error"
    return None


def line_stop(code_before: str, following: str | None) -> Callable[[list[str]], bool] | None:
    """The ``generate(line_stop=)`` check for an answer written at the end of ``code_before`` (the buffer up to
    the cursor) that must come back to the code line ``following``; None when nothing can be ruled out."""
    if following is None:
        return None
    state = open_at_end(code_before)
    if state == "string":
        return _closes_string
    if state is not None:
        return None
    indent = _indent(following)

    def dedents_past(lines: list[str]) -> bool:
        line = lines[-1]
        code = line.strip()
        if not code or code.startswith("#") or _indent(line) >= indent or _OPENS_BLOCK.search(code):
            return False
        # The line starts a statement only when the answer's lines before it leave nothing open.
        return open_at_end("".join(x.lstrip() + "\n" for x in lines[:-1])) is None

    return dedents_past


def _closes_string(lines: list[str]) -> bool:
    return any(quotes in lines[-1] for quotes in TRIPLE_QUOTES)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
