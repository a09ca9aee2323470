"""A local JSONL log of suggestions shown, accepted and rejected, with the buffer they were made for.

It is training data for later retraining on the user's own edits, so it never leaves the machine: one file in the
user data directory (``$EDITSEQ_DATA_DIR``, else the platform's data directory), switched off with the ``logging``
setting. Writing never raises into the server: a full disk loses a log line, not the editor session.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "EDITSEQ_DATA_DIR"
EVENTS = ("shown", "accepted", "rejected")


def data_dir() -> Path:
    """Where EditSeq keeps user data: ``$EDITSEQ_DATA_DIR``, else the platform's per-user data directory."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "editseq"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "editseq"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "editseq"


class SuggestionLog:
    """Appends one JSON object per event to ``path``; thread safe; a no-op while disabled."""

    def __init__(self, path: Path | None = None, *, enabled: bool = True):
        self.path = path or data_dir() / "suggestions.jsonl"
        self.enabled = enabled
        self._lock = threading.Lock()
        self._warned = False

    def record(self, event: str, *, uri: str, version: int | None, buffer: str, **fields: Any) -> None:
        """Append ``event`` (shown/accepted/rejected) with the buffer state and any extra JSON-able fields."""
        if not self.enabled:
            return
        if event not in EVENTS:
            raise ValueError(f"unknown suggestion event {event!r}; expected one of {EVENTS}")
        row = {
            "time": time.time(),
            "event": event,
            "uri": uri,
            "version": version,
            "buffer": buffer,
            **fields,
        }
        line = json.dumps(row, ensure_ascii=False, default=str)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("cannot write the suggestion log %s: %s", self.path, exc)
