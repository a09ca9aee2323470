"""Suggestions as LSP edits: TextEdits for placements, preview titles, and the WorkspaceEdit a client applies.

A placement inserts whole lines before buffer line ``line`` (0-based; ``line == len(lines)`` appends), always
relative to the buffer the suggestion was computed for; LSP applies all edits of one WorkspaceEdit against the
original document too, so placements map one to one onto TextEdits at column 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

TITLE_PREVIEW_CHARS = 40


def text_edits(buffer: str, placements: Sequence[Any]) -> list[types.TextEdit]:
    """One insertion TextEdit per placement; applying them to ``buffer`` inserts the placements' lines."""
    buffer_lines = buffer.split("\n")
    # split("\n") sees a trailing newline as an empty last line, as LSP does; so line n (append) of a buffer that
    # ends with a newline is the empty last LSP line, and only a buffer without one needs a leading newline.
    n_lines = len(buffer_lines)
    edits = []
    for placement in placements:
        body = "\n".join(placement.lines)
        if placement.line >= n_lines:
            last = n_lines - 1
            edits.append(_insert(last, _utf16_len(buffer_lines[last]), "\n" + body))
        else:
            edits.append(_insert(max(placement.line, 0), 0, body + "\n"))
    return edits


def workspace_edit(
    uri: str, version: int | None, buffer: str, placements: Sequence[Any]
) -> types.WorkspaceEdit:
    """The WorkspaceEdit inserting ``placements`` into ``buffer``, pinned to ``version`` when known."""
    edits = text_edits(buffer, placements)
    if version is None:
        return types.WorkspaceEdit(changes={uri: edits})
    document = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=document, edits=edits)])


def preview_title(placements: Sequence[Any]) -> str:
    """A short title such as ``Insert 2 lines at 14: for item in ...`` (1-based line, like editors show)."""
    if not placements:
        return "Insert nothing"
    n = sum(len(p.lines) for p in placements)
    first = placements[0]
    text = next((line.strip() for line in first.lines if line.strip()), "")
    if len(text) > TITLE_PREVIEW_CHARS:
        text = text[: TITLE_PREVIEW_CHARS - 4].rstrip() + " ..."
    where = f"at {first.line + 1}" + (f" (+{len(placements) - 1} more places)" if len(placements) > 1 else "")
    noun = "line" if n == 1 else "lines"
    return f"Insert {n} {noun} {where}: {text}" if text else f"Insert {n} blank {noun} {where}"


def apply_text_edits(text: str, edits: Sequence[types.TextEdit]) -> str:
    """Apply LSP TextEdits (all relative to ``text``) the way a client does; for tests and the benchmark client."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(pos: types.Position) -> int:
        row = min(pos.line, len(lines) - 1)
        return offsets[row] + _from_utf16(lines[row], pos.character)

    spans = sorted(
        ((offset(e.range.start), offset(e.range.end), i, e.new_text) for i, e in enumerate(edits)),
        reverse=True,
    )
    for start, end, _, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def _insert(line: int, character: int, text: str) -> types.TextEdit:
    position = types.Position(line=line, character=character)
    return types.TextEdit(range=types.Range(start=position, end=position), new_text=text)


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _from_utf16(line: str, units: int) -> int:
    """The str index of a UTF-16 column (clamped to the line)."""
    if line.isascii():
        return min(units, len(line))
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(line)
