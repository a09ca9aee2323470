"""What a model name or path stands for before anything is loaded: an installed registry entry (by name, or by the
directory it is installed in) and the base model of a LoRA adapter directory."""

from __future__ import annotations

import os
from pathlib import Path

from model_runtime.load_errors import ModelLoadError


def registry_location(spec: str | os.PathLike[str]):
    """Where registry entry ``spec`` is installed (a ``registry.locations.Located``), or None when ``spec`` is no
    entry's name; ModelLoadError when the entry is not installed. A path that exists is an entry only when it is
    where a base model entry is installed (so that it loads with the entry's strategy and CPU default, as by name)."""
    from model_runtime.registry import catalog, locations

    path = Path(spec).expanduser()
    by_path = not isinstance(spec, str) or path.exists()
    try:
        known = catalog.load()
    except catalog.RegistryError as exc:
        if by_path:  # a model directory loads without the registry
            return None
        raise ModelLoadError(str(exc)) from exc
    if by_path:
        resolved = path.resolve()
        entry = next(
            (
                e
                for e in known.entries.values()
                if e.adapter is None and e.base is None and locations.model_dir(e.name).resolve() == resolved
            ),
            None,
        )
    else:
        entry = known.find(spec)
    if entry is None:
        return None
    located = locations.locate(entry, known)
    problem = located.missing()
    if problem:
        if by_path:
            return None
        raise ModelLoadError(problem)
    return located


def is_adapter_dir(path: Path) -> bool:
    """Whether ``path`` is a LoRA adapter directory without a model of its own."""
    return (path / "adapter_config.json").is_file() and not (path / "config.json").is_file()


def adapter_base(directory: str | os.PathLike[str]) -> str:
    """The base model an adapter directory was trained on.

    Its ``train_config.json``'s ``model`` or ``adapter_config.json``'s ``base_model_name_or_path``: a directory
    that exists, else a registry name (its installed directory under ``$EDITSEQ_HOME``). ``default`` there means
    what it meant when such adapters were trained, SmolLM2-135M-Instruct (``registry.catalog.LEGACY_DEFAULT``),
    not today's default. Raises ModelLoadError when none of them names a model that is here.
    """
    import json

    from model_runtime.registry import catalog, locations

    directory = Path(directory)
    candidates = []
    for name, key in (("train_config.json", "model"), ("adapter_config.json", "base_model_name_or_path")):
        try:
            candidate = json.loads((directory / name).read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(candidate, str) and candidate:
            candidates.append(candidate)
    for candidate in candidates:
        if Path(candidate).expanduser().is_dir():
            return str(Path(candidate).expanduser())
    try:
        known = catalog.load()
    except catalog.RegistryError as exc:
        raise ModelLoadError(str(exc)) from exc
    for candidate in candidates:
        entry = known.find(catalog.LEGACY_DEFAULT if candidate == catalog.DEFAULT_ALIAS else candidate)
        if entry is None:
            continue
        base = known.base_of(entry)
        if not locations.is_complete(locations.model_dir(base.name)):
            raise ModelLoadError(
                f"{directory} is a LoRA adapter on model {base.name}, which is not installed; "
                f"run `editseq model install {base.name}`"
            )
        return str(locations.model_dir(base.name))
    raise ModelLoadError(
        f"{directory} is a LoRA adapter whose base model is not here (it names {', '.join(candidates) or 'nothing'})"
    )
