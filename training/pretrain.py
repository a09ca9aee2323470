"""Tiny models from scratch: a byte-level BPE tokenizer (with ``<|diff|>``), a small Llama, next-token pretraining.

``build_tiny_model`` makes a randomly initialised model directory in seconds (the test suite's tiny models);
``pretrain`` trains such a model on the Python files of a source tree with the finetuning loop (every file becomes
a record with an empty instruction, so the loss covers the whole file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model_runtime.edits import DIFF_TOKEN

EOS = "<|endoftext|>"
PAD = "<|pad|>"
# The same shape as ChatML (SmolLM2's template), so chat-format code paths run on tiny models too.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinyShape:
    """A small Llama's size; the defaults make a ~1M-parameter model that trains at thousands of tokens/s on CPU."""

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 128
    context: int = 1024


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 512, *, chat: bool = True, diff_token: bool = True
):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on texts; knows eos, pad, ``<|diff|>`` (and ChatML).

    ``diff_token=False`` leaves ``<|diff|>`` out, like a real base model's tokenizer before finetuning adds it.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = (
        [EOS, PAD] + ([DIFF_TOKEN] if diff_token else []) + (["<|im_start|>", "<|im_end|>"] if chat else [])
    )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>" if chat else EOS,
        pad_token=PAD,
    )
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_config(
    vocab_size: int,
    shape: TinyShape = TinyShape(),
    *,
    eos_id: int = 0,
    pad_id: int = 1,
    bos_id: int | None = -1,
):
    """A LlamaConfig of the given shape with tied embeddings, like SmolLM2's (``bos_id`` -1 means eos)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=shape.context,
        tie_word_embeddings=True,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=eos_id if bos_id == -1 else bos_id,
    )


def build_tiny_model(
    out: Path,
    texts: Iterable[str],
    *,
    vocab_size: int = 512,
    shape: TinyShape = TinyShape(),
    seed: int = 0,
    diff_token: bool = True,
) -> Path:
    """Write a randomly initialised tiny Llama with its trained tokenizer to ``out`` (safetensors); returns out."""
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = train_tokenizer(texts, vocab_size, diff_token=diff_token)
    config = tiny_config(len(tokenizer), shape, eos_id=tokenizer.eos_token_id, pad_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def line_chunks(text: str, lines: int) -> list[str]:
    """The non-blank chunks of ``lines`` consecutive lines of a text."""
    rows = text.splitlines()
    chunks = ("\n".join(rows[i : i + lines]) for i in range(0, len(rows), max(lines, 1)))
    return [chunk for chunk in chunks if chunk.strip()]


def pretrain(
    tree: Path,
    out: Path,
    *,
    vocab_size: int = 4096,
    shape: TinyShape = TinyShape(),
    max_length: int = 512,
    steps: int = 200,
    lr: float = 1e-3,
    seed: int = 0,
    threads: int = 0,
    log=print,
) -> Path:
    """Train a tokenizer and a small Llama on the Python files of a source tree; returns the final model dir."""
    from training.corpus import CorpusStats, python_files, split_for
    from training.datasets import write_records
    from training.finetune import train
    from training.train_config import TrainConfig

    stats = CorpusStats()
    files = [(str(rel), text) for rel, text in python_files(Path(tree), stats)]
    if not files:
        raise ValueError(f"no usable Python files under {tree}")
    out = Path(out)
    base = build_tiny_model(
        out / "init", (text for _, text in files), vocab_size=vocab_size, shape=shape, seed=seed
    )
    # A record per file with an empty instruction: the plain baseline format then trains on the whole file.
    # Files are cut into chunks of lines so that long files are not left out for being longer than max_length.
    records = [
        {"kind": "baseline", "instruction": "", "program": chunk, "split": split_for(rel, 0.02)}
        for rel, text in files
        for chunk in line_chunks(text, max_length // 12)
    ]
    write_records(out / "files.jsonl", records)
    log(f"{len(files)} files; tokenizer of {vocab_size} tokens; training {steps} steps")
    config = TrainConfig(
        model=str(base), data=str(out / "files.jsonl"), out=str(out), format="plain", lora=False, lr=lr,
        max_length=max_length, max_steps=steps, seed=seed, threads=threads, warmup=0.05, schedule="cosine",
    )  # fmt: skip
    return train(config, log=log)
