"""The one error every model-loading path raises (imports nothing, so the registry and the converters share it)."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded; the message says what was looked for and why it failed."""
