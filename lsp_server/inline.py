"""The best suggestion as inline completion (ghost text) at the cursor, when it inserts at or after the cursor line.

Inline completion replaces one range that contains the cursor, so an insertion is expressed as a rewrite of the
text between the cursor and the insertion point: before the cursor line's text when it goes at the cursor line,
after the cursor when it goes below (the lines in between are repeated unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from lsp_server.text_edits import _from_utf16, _utf16_len


def inline_item(
    buffer: str, cursor: types.Position, placements: list[Any]
) -> types.InlineCompletionItem | None:
    """The ghost-text item for a one-place insertion at or below the cursor line; None when it cannot be shown."""
    if len(placements) != 1:
        return None
    placement = placements[0]
    lines = buffer.split("\n")
    row = cursor.line
    if row >= len(lines) or placement.line < row:
        return None
    current = lines[row]
    col = _from_utf16(current, cursor.character)
    body = "\n".join(placement.lines)
    if placement.line == row:
        # Goes above the cursor line: rewrite from the line start up to the cursor.
        new_text = body + "\n" + current[:col]
        start = types.Position(line=row, character=0)
        end = types.Position(line=row, character=_utf16_len(current[:col]))
    else:
        # Goes below: rewrite from the cursor to the end of the line before the insertion point.
        last = min(placement.line, len(lines)) - 1
        between = "\n".join([current[col:], *lines[row + 1 : last + 1]])
        new_text = between + "\n" + body
        start = types.Position(line=row, character=_utf16_len(current[:col]))
        end = types.Position(line=last, character=_utf16_len(lines[last]))
    return types.InlineCompletionItem(insert_text=new_text, range=types.Range(start=start, end=end))


def best_inline(buffer: str, cursor: types.Position, suggestions: Sequence[Any]) -> tuple[Any, Any] | None:
    """The best suggestion ghost text can show, with its item: one above the cursor (an import quick fix, ranked
    first) cannot be shown, so the next one is."""
    for suggestion in suggestions:
        item = inline_item(buffer, cursor, list(suggestion.placements))
        if item is not None:
            return suggestion, item
    return None
