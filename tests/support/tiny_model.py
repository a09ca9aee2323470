"""A tiny Llama, trained in seconds until it reproduces a known LintSeq sequence, saved as a safetensors HF directory.

Tests assert against the known sequence: given the buffer ``KNOWN_STATES[2]`` the model's next edit is
``KNOWN_EDITS[2]`` (two lines inserted in the middle of the function), and from ``KNOWN_INSTRUCTION`` alone it writes
``KNOWN_PROGRAM`` step by step. The tokenizer is character level (built with ``tokenizers``), so the model can emit
any text, which the property tests rely on. Build one from the command line for the end-to-end tests::

    python -m tests.support.tiny_model OUTDIR
"""

from __future__ import annotations

import string
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from model_runtime.edits import DIFF_TOKEN, SEPARATOR, edits_from_states, render_sequence

EOS = "<eos>"
PAD = "<pad>"
UNK = "<unk>"

KNOWN_INSTRUCTION = '"""Return the sum of the squares of xs."""'
KNOWN_STATES = (
    "",
    "def sum_squares(xs):\n    total = 0",
    "def sum_squares(xs):\n    total = 0\n    return total",
    "def sum_squares(xs):\n    total = 0\n    for x in xs:\n        total += x * x\n    return total",
)
KNOWN_PROGRAM = KNOWN_STATES[-1]
KNOWN_EDITS = tuple(edits_from_states(KNOWN_STATES))
# The next edit for the buffer KNOWN_STATES[2], as 0-based placement: two lines before buffer line 2.
KNOWN_NEXT_LINE = 2
KNOWN_NEXT_LINES = ("    for x in xs:", "        total += x * x")


def known_texts() -> list[str]:
    """What the tiny model learns: the full sequence, and the continuation from each state given as one insertion.

    The second kind matches the ``whole`` prompt mode (the buffer as one insertion, then the next edits).
    """
    texts = [render_sequence(KNOWN_INSTRUCTION, KNOWN_EDITS) + EOS]
    for i in (2,):
        whole = edits_from_states(["", KNOWN_STATES[i]])
        texts.append(render_sequence(KNOWN_INSTRUCTION, [*whole, *KNOWN_EDITS[i:]]) + EOS)
    return texts


def bad_texts() -> list[str]:
    """What the "bad" tiny model learns: for the buffer ``KNOWN_STATES[2]`` it proposes an edit that adds an error."""
    whole = edits_from_states(["", KNOWN_STATES[2]])
    bad_edit = "@@ -2,0 +3 @@\n+    total += undefined_name"
    return [render_sequence(KNOWN_INSTRUCTION, [*whole, bad_edit]) + EOS]


def build_tokenizer(*, with_diff_token: bool = True):
    """A character-level fast tokenizer: printable ASCII, newline and tab, plus ``<|diff|>``, eos, pad and unk."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) - set("\r\x0b\x0c"))
    vocab = {token: i for i, token in enumerate([PAD, UNK, EOS, *chars])}
    # A BPE model without merges splits text into single characters; Fuse joins them back without spaces.
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS, pad_token=PAD, unk_token=UNK)
    if with_diff_token:
        tokenizer.add_tokens([DIFF_TOKEN])
    return tokenizer


def build_model(vocab_size: int, *, seed: int = 0):
    """A randomly initialised 2-layer Llama of width 64 (the shape ``editseq pretrain`` starts from)."""
    import torch
    from transformers import LlamaForCausalLM

    from training.pretrain import TinyShape, tiny_config

    torch.manual_seed(seed)
    config = tiny_config(vocab_size, TinyShape(kv_heads=4), eos_id=2, pad_id=0, bos_id=None)
    return LlamaForCausalLM(config)


def train_until_memorised(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    max_steps: int = 600,
    lr: float = 1e-2,
    prompts: Sequence[str] | None = None,
) -> int:
    """Train on ``texts`` until every next token is predicted right (greedy decoding then reproduces them).

    ``prompts``: each text's prompt (a prefix of it); only the tokens after it are judged. Without them, judging
    starts at the first ``<|diff|>``. Returns the number of steps taken; raises RuntimeError if ``max_steps`` is
    not enough.
    """
    import torch

    batch = tokenizer(list(texts), return_tensors="pt", padding=True, padding_side="right")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    labels = ids.masked_fill(mask == 0, -100)
    # Where two texts share a prefix and then differ, no model can predict both: judge only determined positions.
    judged = labels[:, 1:].clone()
    rows = ids.tolist()
    # The instruction is always given as the prompt; identical leading characters (a docstring's quotes) cannot be
    # told apart by a model without absolute positions anyway. Judge from the first separator on.
    diff_id = tokenizer.convert_tokens_to_ids(DIFF_TOKEN)
    for i, row in enumerate(rows):
        start = len(tokenizer(prompts[i])["input_ids"]) if prompts else row.index(diff_id)
        judged[i, : start - 1] = -100
    for i, row in enumerate(rows):
        for j, other in enumerate(rows):
            shared = next((p for p, (a, b) in enumerate(zip(row, other, strict=True)) if a != b), len(row))
            if j != i and 0 < shared < len(row):  # identical texts hold no ambiguity
                judged[i, shared - 1] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for step in range(1, max_steps + 1):
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        if step % 25 == 0:
            predicted = out.logits[:, :-1].argmax(-1)
            if bool(((predicted == judged) | (judged == -100)).all()):
                # Those logits came before this step's update: check the weights as they are now.
                with torch.no_grad():
                    now = model(input_ids=ids, attention_mask=mask).logits[:, :-1].argmax(-1)
                if bool(((now == judged) | (judged == -100)).all()):
                    model.eval()
                    return step
    raise RuntimeError(f"the tiny model did not memorise its texts in {max_steps} steps")


def build(
    out_dir: str | Path,
    texts: Sequence[str] | None = None,
    *,
    seed: int = 0,
    prompts: Sequence[str] | None = None,
    extra_tokens: Sequence[str] = (),
    max_steps: int = 600,
) -> Path:
    """Build, train and save a tiny model that reproduces ``texts`` (default: the known sequence); returns the dir.

    ``prompts``: see ``train_until_memorised``; ``extra_tokens``: special tokens to add (e.g. FIM tokens)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and polite on a shared machine
    try:
        tokenizer = build_tokenizer()
        if extra_tokens:
            tokenizer.add_special_tokens({"additional_special_tokens": list(extra_tokens)})
        model = build_model(len(tokenizer), seed=seed)
        train_until_memorised(model, tokenizer, texts or known_texts(), prompts=prompts, max_steps=max_steps)
    finally:
        torch.set_num_threads(threads)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def prompt_for_state(index: int) -> str:
    """The ``whole``-mode prompt for buffer ``KNOWN_STATES[index]``: instruction, the buffer as one insertion."""
    whole = edits_from_states(["", KNOWN_STATES[index]])
    return KNOWN_INSTRUCTION + SEPARATOR.join(["", *whole, ""])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.support.tiny_model OUTDIR")
    started = time.perf_counter()
    path = build(sys.argv[1])
    print(f"tiny model saved to {path} in {time.perf_counter() - started:.1f} s")
