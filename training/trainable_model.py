"""The model a finetuning run trains: a registry name resolved to a directory, the model and tokenizer loaded with
``<|diff|>`` added and LoRA attached (or full weights), from a checkpoint when resuming, and the text format."""

from __future__ import annotations

from pathlib import Path

from training.datasets import FORMATS
from training.train_config import TrainConfig


def resolve_model_path(spec: str) -> str:
    """A model directory for ``spec``: a registry name (``default``: the registry's default) is installed (once)
    and its directory returned (an adapter entry's: its base's); anything else is returned as it is."""
    from model_runtime.registry import catalog

    if Path(spec).expanduser().exists() or catalog.load().find(spec) is None:
        return spec
    from model_runtime.registry.install import install_model

    return str(install_model(spec))


def load_for_training(config: TrainConfig, resume_from: Path | None):
    """``(model, tokenizer)`` ready to train: ``<|diff|>`` added, LoRA attached (or full), weights from a checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from model_runtime.loading import ensure_diff_token

    path = resolve_model_path(config.model)
    source = str(resume_from) if resume_from is not None and not config.lora else path
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=config.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=torch.float32, use_safetensors=True, trust_remote_code=config.trust_remote_code
    )
    diff_id = ensure_diff_token(model, tokenizer)
    tokenizer.padding_side = "right"
    model.config.use_cache = False
    if config.lora:
        from peft import LoraConfig, PeftModel, get_peft_model

        if resume_from is not None:
            model = PeftModel.from_pretrained(model, str(resume_from), is_trainable=True)
        else:
            lora = LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=list(config.lora_targets),
                # Only the new token's rows train (and are saved), not the whole vocabulary x width matrices.
                trainable_token_indices=token_rows(model, diff_id),
                task_type="CAUSAL_LM",
            )
            model = get_peft_model(model, lora)
    return model, tokenizer


def token_rows(model, token_id: int) -> dict[str, list[int]]:
    """PEFT's ``trainable_token_indices`` for one new token: its input embedding row and, when the output layer is
    not tied to the input embeddings (Qwen2.5 converted from GGUF keeps a separate ``lm_head``), its output row too.
    Without the output row the model could read ``<|diff|>`` but never learn to write it."""
    names = {id(module): name for name, module in model.named_modules()}
    embed, output = model.get_input_embeddings(), model.get_output_embeddings()
    rows = {names[id(embed)].rsplit(".", 1)[-1]: [token_id]}
    if output is not None and output.weight is not embed.weight:
        rows[names[id(output)].rsplit(".", 1)[-1]] = [token_id]
    return rows


def choose_format(config: TrainConfig, tokenizer) -> str:
    """The text format: the configured one, or ``chat`` when the tokenizer has a chat template (``auto``)."""
    if config.format == "auto":
        return "chat" if getattr(tokenizer, "chat_template", None) else "plain"
    if config.format not in FORMATS:
        raise ValueError(f"unknown format {config.format!r}; choose one of auto, {', '.join(FORMATS)}")
    return config.format
