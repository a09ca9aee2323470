"""Which lines of a long buffer a prompt shows: the top-level statement around the cursor, within a line budget.

The default model was trained on single functions and short files (at most 1,024 tokens an example), so a prompt
holding a whole 2,000-line file is far outside what it knows (and past SmolLM2's context), and its prefill alone
takes many seconds on a CPU. A buffer longer than the window therefore shows only the top-level statement the
cursor is in (a function, a class), grown upwards by whole statements before it while they fit (in whole steps of
a quarter of the window, so that typing seldom changes them); a statement longer than the window is cut around the
cursor, on a grid of lines so that typing does not move it (``_cut``). In the blank lines between statements the
window ends at the cursor.
``prompts.build_prompt`` hides the other lines the way it hides a docstring used as the instruction
(``Prompt.hidden``), and keeps the recent edits (Diff History) when they all lie inside the window
(``window_states``); suggestions are validated against the whole buffer.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from model_runtime import lint
from model_runtime.edits import normalise
from model_runtime.outline import Outline

DEFAULT_WINDOW = 80  # lines; about 800 tokens of Python, with room for the instruction and the edit


def window_span(buffer: str, line: int | None, size: int, spans: Sequence[range] | None = None) -> range:
    """The 0-based lines of ``buffer`` a prompt shows for a cursor on 0-based ``line`` (None: the end).

    All of them when ``size`` is 0 or the buffer has at most ``size`` lines. ``spans``: the buffer's
    ``top_level_spans``, when the caller has them.
    """
    count = len(buffer.split("\n"))
    if size <= 0 or count <= size:
        return range(count)
    cursor = count - 1 if line is None else min(max(line, 0), count - 1)
    units = top_level_spans(lint.parse_or_none(buffer)) if spans is None else spans
    around = next((unit for unit in units if cursor in unit), None)
    if around is not None and len(around) > size:
        return _cut(around, cursor, size)
    if around is not None:
        start, stop = around.start, around.stop
    else:  # between statements, or a buffer that does not parse: the lines up to the cursor
        stop = cursor + 1
        start = max([unit.stop for unit in units if unit.stop <= cursor] + [stop - size, 0])
    # Whole statements above, within the lines left, counted in grid steps: a line typed below changes what fits
    # once a step, not at every line (the prompt cache reuses the prompt up to its first change).
    step = max(size // 4, 1)
    room, first = (size - (stop - start)) // step * step, start
    for unit in reversed([unit for unit in units if unit.stop <= first]):
        if first - unit.start > room:
            break
        start = unit.start
    return range(start, stop)


def _cut(unit: range, cursor: int, size: int) -> range:
    """The lines of a top-level statement longer than the window that a prompt shows: from the last line of a grid
    of ``size // 4`` lines (counted from the statement's first line) that is at least half a window above the
    cursor, to at most ``size`` lines later (fewer at the statement's end); the cursor is then 1/2 to 3/4 of the
    way down the window.

    A start that follows the cursor line by line would move with every line typed, and the prompt would differ
    from the previous one right after its header: the per-document prompt cache (``generation``) would reuse
    nothing. On the grid, a line typed moves the start once in ``size // 4`` lines, and everything above the edit
    is the prompt the cache holds.
    """
    step = max(size // 4, 1)
    start = unit.start + max(cursor - size // 2 - unit.start, 0) // step * step
    return range(start, min(start + size, unit.stop))


def window_states(states: Sequence[str], before: int, after: int) -> list[str] | None:
    """Program states (the last one the current buffer) cut to the current window: each without its first
    ``before`` and last ``after`` lines; None when an earlier state differs from the current one there (a recent
    edit outside the window: the caller leaves the history out)."""
    current = normalise(states[-1])
    head, tail = current[:before], current[len(current) - after :]
    cut = []
    for state in states:
        lines = normalise(state)
        if len(lines) < before + after or lines[:before] != head or lines[len(lines) - after :] != tail:
            return None
        cut.append("\n".join(lines[before : len(lines) - after]))
    return cut


def top_level_spans(tree: ast.Module | None) -> list[range]:
    """0-based line ranges of a module's top-level statements (decorators included); [] for None (no parse)."""
    return Outline.of_tree(tree).spans() if tree is not None else []
