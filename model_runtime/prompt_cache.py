"""The KV caches of recent prompts, one per caller-given key (a document), the least recently used dropped first.

An editor asks for suggestions in several open documents; with one kept prompt, switching to another document and
back ran both prompts from scratch each time. Keyed by document, each keeps its own prefix, and the next request
for that document runs only the tokens after the first one that changed. The bounds (entries and total tokens) keep
memory in check: a 2,000-token prompt of Qwen2.5-Coder-0.5B holds about 50 MB of fp32 keys and values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 4
MAX_TOKENS = 16_384


@dataclass
class CachedPrompt:
    """A prompt's token ids (or the part a cancelled prefill ran), their KV cache at batch 1, and the next-token
    logits after the last of them."""

    ids: list[int]
    cache: Any
    logits: Any


class PromptCache:
    """A bounded LRU of ``CachedPrompt`` by key; the most recent entry is kept even alone over ``max_tokens``."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_tokens: int = MAX_TOKENS) -> None:
        if max_entries < 1 or max_tokens < 1:
            raise ValueError("a prompt cache holds at least one entry and one token")
        self.max_entries = max_entries
        self.max_tokens = max_tokens
        self._entries: OrderedDict[Hashable, CachedPrompt] = OrderedDict()

    def get(self, key: Hashable) -> CachedPrompt | None:
        """The entry kept for ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: CachedPrompt) -> None:
        """Keep ``entry`` for ``key`` (replacing what was there), then drop the least recently used over the bounds."""
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_entries or self.tokens > self.max_tokens
        ):
            self._entries.popitem(last=False)

    def keys(self) -> list[Hashable]:
        """The keys held, least recently used first."""
        return list(self._entries)

    @property
    def tokens(self) -> int:
        return sum(len(entry.ids) for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
