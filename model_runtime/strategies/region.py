"""Which lines a strategy shows the model: the region it may add to, and the context above it.

The region is the top-level statement holding the cursor (a function, a class), or the one ending last before it
when the cursor sits between statements; a region longer than the window is cut around the cursor
(``windows.window_span``). The context is what the window shows above the region (imports, earlier functions).
"""

from __future__ import annotations

from dataclasses import dataclass

from model_runtime.outline import Outline, outline_of
from model_runtime.windows import window_span


@dataclass(frozen=True)
class Focus:
    """0-based line ranges of the caller's buffer: ``context`` (above), ``region``, the window around both,
    ``unit``: the whole top-level statement the region is (part of), and ``head``: the unit's head
    (``Outline.head``)."""

    context: range
    region: range
    window: range
    unit: range
    head: range


def focus(buffer: str, line: int | None, window: int, tree: object = None) -> Focus:
    """The context and region for a cursor on 0-based ``line`` (None: the end of the buffer)."""
    outline = tree if isinstance(tree, Outline) else outline_of(buffer)
    lines = buffer.split("\n")
    at = len(lines) if line is None else max(0, min(line, len(lines)))
    spans = outline.spans() if outline is not None else []
    holding = [s for s in spans if s.start <= at < s.stop]
    before = [s for s in spans if s.stop <= at]
    unit = region = holding[0] if holding else (before[-1] if before else range(at, at))
    shown = window_span(buffer, line, window, spans)
    if window and len(region) > window:
        region = range(max(region.start, shown.start), min(region.stop, shown.stop))
    start = min(shown.start, region.start)
    head = outline.head(unit) if outline is not None else range(unit.start, unit.start)
    return Focus(range(start, region.start), region, range(start, max(shown.stop, region.stop)), unit, head)
