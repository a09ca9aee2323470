"""``editseq model list``'s rows: each registry entry with what is installed of it and its measured scores."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from model_runtime.registry import catalog as registry
from model_runtime.registry import locations


@dataclass(frozen=True)
class ModelRow:
    """One known model as ``editseq model list`` shows it (``as_dict`` is its ``--json`` form)."""

    name: str
    title: str
    default: bool
    parameters: int
    quantisation: str
    licence: str
    provenance: str
    default_strategy: str
    cpu_quantize: str | None
    installed: bool
    path: str  # the directory a load reads (an adapter entry: its base's)
    adapter: str | None
    bytes_on_disk: int  # the converted model (and the adapter) as loaded
    download_bytes: int  # kept wheels and the assembled GGUF file under downloads/
    measured: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)


def rows(
    catalog: registry.Catalog, measured: dict[str, list[dict]], home: Path | None = None
) -> list[ModelRow]:
    """A row per entry, in the registry's order."""
    found = []
    for entry in catalog.entries.values():
        located = locations.locate(entry, catalog, home)
        base = catalog.base_of(entry)
        size = locations.bytes_on_disk(located.directory)
        if located.adapter is not None:
            size += locations.bytes_on_disk(located.adapter)
        found.append(
            ModelRow(
                name=entry.name,
                title=entry.title,
                default=entry.name == catalog.default,
                parameters=entry.parameters,
                quantisation=entry.quantisation,
                licence=entry.licence,
                provenance=entry.provenance,
                default_strategy=entry.default_strategy,
                cpu_quantize=entry.cpu_quantize,
                installed=located.missing() is None,
                path=str(located.directory),
                adapter=str(located.adapter) if located.adapter else None,
                bytes_on_disk=size,
                download_bytes=locations.bytes_on_disk(locations.downloads_dir(base.name, home))
                if base is entry
                else 0,
                measured=list(measured.get(entry.name, [])),
            )
        )
    return found


def human_count(n: int) -> str:
    """``494000000`` -> ``494M``, ``1540000000`` -> ``1.54B``."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.3g}B"
    return f"{n / 1e6:.3g}M" if n >= 1_000_000 else f"{n:,}"


def human_bytes(n: int) -> str:
    if n == 0:
        return "-"
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def measured_text(rows_measured: list[dict]) -> str:
    """Measured rows in a few words, e.g. ``HumanEval pass@1 43.9 % (greedy)``."""
    parts = []
    for row in rows_measured:
        scores = ", ".join(
            [f"{key} {value} %" for key, value in row.items() if key.startswith("pass@")]
            + [f"{key} {value}" for key, value in row.items() if key == "line F1"]
        )
        detail = str(row.get("sampling") or "")
        parts.append(f"{row.get('benchmark', '?')} {scores}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts) or "-"
