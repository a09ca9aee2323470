"""A GGUF file dequantised once into a bf16 safetensors directory, cached under ``$EDITSEQ_HOME/converted``.

transformers' GGUF loader (package ``gguf``) reads the file; the result is saved as safetensors, so the next load
takes a fraction of a second instead of tens of seconds. A conversion is written to ``<dir>.partial`` and renamed
when complete, so an interrupted one never looks done.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from model_runtime.load_errors import ModelLoadError
from model_runtime.registry.locations import editseq_home


def convert_gguf(gguf_path: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Dequantise a GGUF file into a bf16 safetensors HF directory (cached); returns the directory.

    The cache key is the file's name, size and modification time, so a replaced file is converted again.
    """
    gguf_path = Path(gguf_path).expanduser().resolve()
    stat = gguf_path.stat()
    digest = hashlib.sha256(f"{gguf_path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = Path(out_dir) if out_dir else editseq_home() / "converted" / f"{gguf_path.stem}-{digest}"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.bfloat16
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"could not read the GGUF file {gguf_path}: {exc}") from exc
    if getattr(model, "hf_quantizer", None) is not None:
        # The weights are dense after dequantisation; without this, save_pretrained refuses the "quantized" model.
        model.hf_quantizer.remove_quantization_config(model)
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    # Rename last so that an interrupted conversion never looks complete.
    if target.exists():
        import shutil

        shutil.rmtree(target)
    partial.rename(target)
    return target
