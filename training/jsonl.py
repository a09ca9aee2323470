"""JSON Lines files: atomic writes and line-numbered reads (training data is read and written in this one format)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Write rows as JSONL through a temporary file renamed into place (never a half-written file); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def jsonl_rows(path: Path) -> Iterator[tuple[int, object | json.JSONDecodeError]]:
    """``(1-based line number, parsed value or the JSONDecodeError)`` for each non-blank line; the caller decides."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, exc
