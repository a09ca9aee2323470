"""Load a causal language model once: a local HF directory, a GGUF file, or a hub id; returns a ``LoadedModel``.

Security defaults: weights are read from safetensors only (a pickle can run code on load) and
``trust_remote_code`` is off unless the caller asks. The tokenizer always knows ``<|diff|>``: it is added as an
ordinary token when missing and the embeddings are resized to match. A GGUF file is dequantised by transformers'
GGUF loader (package ``gguf``) once and cached as a safetensors directory, so the next load takes a fraction of a
second instead of tens of seconds.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_runtime.edits import DIFF_TOKEN
from model_runtime.gguf_convert import convert_gguf
from model_runtime.load_errors import ModelLoadError
from model_runtime.model_sources import adapter_base, is_adapter_dir, registry_location
from model_runtime.registry.locations import HOME_ENV, editseq_home  # noqa: F401 (part of this module's API)

if TYPE_CHECKING:  # torch and transformers are imported lazily so that `editseq --help` stays fast
    import torch

QUANTIZE_ENV = "EDITSEQ_QUANTIZE"
DEVICES = ("auto", "cpu", "cuda", "mps")

# Chosen by measurement (benchmarks/suggest_latency.py, CPU dtype table; SmolLM2-135M + LintSeq adapter, 1 thread,
# Xeon with AMX): bf16 greedy-decodes batch 1 no faster than fp32 (11.4 vs 12.8 tokens/s) and batch 4 1.45x
# faster (44.5 vs 30.6), but its greedy output agreed with fp32's on 0 of 5 prompts (4% of tokens before the first
# difference), so CPU stays fp32. On GPUs half precision is both faster and good enough. Faster CPU decoding is the
# opt-in int8 weight-only mode (``quantize="int8"``, model_runtime.quantize), measured in the same benchmark.
DEFAULT_DTYPES = {"cpu": "float32", "cuda": "bfloat16", "mps": "float16"}


@dataclass
class LoadedModel:
    """A model ready for generation: model and tokenizer on ``device`` in ``dtype``, plus where they came from."""

    model: Any
    tokenizer: Any
    device: str
    dtype: torch.dtype
    source: str
    adapter: str | None = None
    # "plain" (instruction + separator) or "chat" (the instruction as the chat template's user turn), as trained.
    prompt_format: str = "plain"
    diff_token_id: int = -1
    eos_token_ids: tuple[int, ...] = ()
    # "none", or "int8": Linear weights quantised per channel for CPU decoding (model_runtime.quantize).
    quantization: str = "none"
    # The registry name it was loaded by (model_runtime.registry), and that entry's default next-edit strategy.
    name: str | None = None
    strategy: str | None = None
    # The KV caches of recent prompts (model_runtime.prompt_cache.PromptCache, one per cache key, LRU), so a
    # repeated or extended prompt only runs its new tokens; owned by model_runtime.generation; None clears it.
    prompt_cache: Any = field(default=None, repr=False, compare=False)
    # Generation serialises on this lock: one model, one forward pass at a time (the LSP runs handlers in threads).
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def resolve_device(device: str = "auto") -> str:
    """The device to run on: ``auto`` picks CUDA, then MPS, then CPU; an explicit choice is checked."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    base = device.split(":")[0]
    if base not in DEVICES:
        raise ModelLoadError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but torch sees no CUDA GPU")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelLoadError("device 'mps' was asked for but torch sees no Apple GPU")
    return device


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """The torch dtype to load in: ``auto``/None takes the measured default for the device."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    name = DEFAULT_DTYPES[device.split(":")[0]] if dtype in (None, "auto") else str(dtype)
    if name == "bfloat16" and device.startswith("cuda") and not torch.cuda.is_bf16_supported():
        name = "float16"
    value = getattr(torch, name.replace("torch.", ""), None)
    if not isinstance(value, torch.dtype):
        raise ModelLoadError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return value


def resolve_quantize(quantize: str | None, device: str, preferred: str | None = None) -> str:
    """``none`` or ``int8``. int8 needs a CPU device and torch's int8 kernel: asked for explicitly elsewhere it is an
    error; asked for by ``$EDITSEQ_QUANTIZE`` (read when ``quantize`` is None), or by ``preferred`` (a registry
    entry's ``cpu_quantize``) when that is unset too, it applies where it can."""
    from model_runtime.quantize import QUANTIZE_MODES, supported

    from_env = quantize is None
    name = (os.environ.get(QUANTIZE_ENV) or preferred or "none" if from_env else quantize).lower()
    if name not in QUANTIZE_MODES:
        raise ModelLoadError(f"unknown quantization {name!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if name == "int8" and not supported(device):
        if from_env:
            return "none"
        raise ModelLoadError(
            f"int8 quantization runs on CPU only (with torch's int8 kernel), not on {device!r}"
        )
    return name


_CACHE: dict[tuple, LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def load_model(
    spec: str | os.PathLike[str],
    *,
    device: str = "auto",
    dtype: str | torch.dtype | None = "auto",
    adapter: str | os.PathLike[str] | None = None,
    trust_remote_code: bool = False,
    merge_adapter: bool = True,
    reload: bool = False,
    quantize: str | None = None,
) -> LoadedModel:
    """Load (or return the already loaded) model named by ``spec``.

    ``spec`` is a local HF directory, a ``.gguf`` file, a registry name (``editseq model list``; ``default``: the
    registry's default) or a hub id (which needs a reachable hub or a filled hub cache); a path that exists wins
    over a name. ``adapter`` is a PEFT (LoRA) directory applied on top; it is merged into the weights for speed
    unless ``merge_adapter`` is False. ``quantize`` is ``none`` or ``int8`` (CPU only, see model_runtime.quantize);
    None reads ``$EDITSEQ_QUANTIZE``, else a registry entry's ``cpu_quantize``, else none. Raises ModelLoadError
    with a message that says what was looked for.
    """
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    located = registry_location(spec)
    if located is not None:
        spec = located.directory
        adapter = adapter or located.adapter
    quantize = resolve_quantize(quantize, device, located.entry.cpu_quantize if located else None)
    source = _source_key(spec)
    adapter_key = str(Path(adapter).expanduser().resolve()) if adapter else None
    name = located.entry.name if located else None
    key = (source, device, str(torch_dtype), adapter_key, trust_remote_code, merge_adapter, quantize, name)
    with _CACHE_LOCK:
        if not reload and key in _CACHE:
            return _CACHE[key]
        loaded = _load_uncached(spec, device, torch_dtype, adapter_key, trust_remote_code, merge_adapter)
        if quantize == "int8":
            from model_runtime.quantize import quantize_int8

            quantize_int8(loaded.model)
            loaded.quantization = quantize
        if located is not None:
            loaded.name, loaded.strategy = name, located.entry.default_strategy
        _CACHE[key] = loaded
        return loaded


def clear_cache() -> None:
    """Forget every loaded model (the next ``load_model`` call reads from disk again)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _source_key(spec: str | os.PathLike[str]) -> str:
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.exists() else str(spec)


def _looks_like_path(spec: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else that names a missing file is a typo'd path, not a hub id.
    return spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1


def _load_uncached(
    spec: str | os.PathLike[str],
    device: str,
    torch_dtype: torch.dtype,
    adapter: str | None,
    trust_remote_code: bool,
    merge_adapter: bool,
) -> LoadedModel:
    path = Path(spec).expanduser()
    if adapter is None and is_adapter_dir(path):
        # A retrained model directory (`editseq retrain`) is a LoRA adapter: load its base and apply it.
        return _load_uncached(
            adapter_base(path), device, torch_dtype, str(path.resolve()), trust_remote_code, merge_adapter
        )
    if path.is_file() and path.suffix == ".gguf":
        directory = convert_gguf(path)
        model, tokenizer = _from_directory(str(directory), torch_dtype, trust_remote_code, local_only=True)
    elif path.is_dir():
        model, tokenizer = _from_directory(str(path), torch_dtype, trust_remote_code, local_only=True)
    elif path.exists():
        raise ModelLoadError(
            f"{path} is a file but not a .gguf file; give a model directory, a .gguf file or a hub id"
        )
    elif _looks_like_path(str(spec)) or str(spec).endswith(".gguf"):
        raise ModelLoadError(f"no model at {path}: the directory or .gguf file does not exist")
    else:
        model, tokenizer = _from_hub(str(spec), torch_dtype, trust_remote_code)

    tokenizer_source = adapter if adapter and (Path(adapter) / "tokenizer_config.json").is_file() else None
    if tokenizer_source:
        # An adapter trained with its own tokenizer (for example with <|diff|> already added) must use that one.
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=trust_remote_code)
    diff_id = ensure_diff_token(model, tokenizer)
    if adapter:
        model = _apply_adapter(model, adapter, merge_adapter)
    model.to(device)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=torch_dtype,
        source=str(path.resolve()) if path.exists() else str(spec),
        adapter=adapter,
        prompt_format=prompt_format(tokenizer, adapter or (str(path) if path.is_dir() else None)),
        diff_token_id=diff_id,
        eos_token_ids=_eos_ids(model, tokenizer),
    )


def _from_directory(name: str, torch_dtype: torch.dtype, trust_remote_code: bool, *, local_only: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if Path(name).is_dir() and not any(Path(name).glob("*.safetensors")):
        found = sorted(p.name for p in Path(name).iterdir())[:8]
        raise ModelLoadError(
            f"{name} holds no .safetensors weights (found: {', '.join(found) or 'nothing'}); EditSeq loads "
            "safetensors only, because pickled weights can run code when loaded"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name, trust_remote_code=trust_remote_code, local_files_only=local_only
        )
        model = AutoModelForCausalLM.from_pretrained(
            name,
            dtype=torch_dtype,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            local_files_only=local_only,
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load a causal language model from {name}: {exc}") from exc
    return model, tokenizer


def _from_hub(repo_id: str, torch_dtype: torch.dtype, trust_remote_code: bool):
    """Load from the hub cache first, then the hub itself; offline, say exactly what was looked for."""
    try:
        return _from_directory(repo_id, torch_dtype, trust_remote_code, local_only=True)
    except ModelLoadError as cached_error:
        looked_for = (
            f"{repo_id!r} is not a local directory or .gguf file and is not in the Hugging Face cache"
        )
        reachable, why = hub_reachable()
        if not reachable:
            # Without this check the hub client retries for most of a minute before giving up.
            raise ModelLoadError(
                f"{looked_for}, and the hub is unreachable ({why}); give a local path"
            ) from None
        try:
            return _from_directory(repo_id, torch_dtype, trust_remote_code, local_only=False)
        except ModelLoadError as exc:
            raise ModelLoadError(f"{looked_for}, and the hub could not provide it: {exc}") from cached_error


def hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the Hugging Face hub answers a TCP connection (and offline mode is off); with the reason if not."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False, "HF_HUB_OFFLINE is set"
    endpoint = urlparse(constants.ENDPOINT)
    host, port = (
        endpoint.hostname or "huggingface.co",
        endpoint.port or (443 if endpoint.scheme == "https" else 80),
    )
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return False, f"cannot connect to {host}:{port}: {exc}"
    return True, ""


def ensure_diff_token(model, tokenizer) -> int:
    """Add ``<|diff|>`` to the tokenizer when missing (resizing the embeddings); returns its token id.

    New rows of the input and output embeddings start at the mean of the existing rows, the same on every load: an
    adapter replaces them with its trained values, and without one the token's score does not depend on a random
    draw. Also gives the tokenizer a pad token (eos) and left padding, which batched generation needs.
    """
    import torch

    if DIFF_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([DIFF_TOKEN])
    old_rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > old_rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        embed, output = model.get_input_embeddings(), model.get_output_embeddings()
        untied = output is not None and output.weight is not embed.weight
        with torch.no_grad():
            for weight in (embed.weight, output.weight) if untied else (embed.weight,):
                weight[old_rows:] = weight[:old_rows].mean(dim=0)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer.convert_tokens_to_ids(DIFF_TOKEN)


def prompt_format(tokenizer, directory: str | None) -> str:
    """The text format the model was finetuned with: the ``format`` its ``train_config.json`` records, else (as
    training's ``auto``) ``chat`` when the tokenizer has a chat template."""
    import json

    config = Path(directory) / "train_config.json" if directory else None
    if config is not None and config.is_file():
        try:
            recorded = json.loads(config.read_text()).get("format")
        except (OSError, ValueError, AttributeError):
            recorded = None
        if recorded in ("plain", "chat"):
            return recorded
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def _eos_ids(model, tokenizer) -> tuple[int, ...]:
    ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return tuple(dict.fromkeys(ids))


def _apply_adapter(model, adapter: str, merge: bool):
    if not Path(adapter).is_dir():
        raise ModelLoadError(f"no adapter directory at {adapter}")
    if not (Path(adapter) / "adapter_model.safetensors").is_file():
        raise ModelLoadError(
            f"{adapter} holds no adapter_model.safetensors; EditSeq loads safetensors adapters only"
        )
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"could not apply the adapter at {adapter}: {exc}") from exc
    # Merged weights decode as fast as the base model; the unmerged form is only useful for further training.
    return peft_model.merge_and_unload() if merge else peft_model
