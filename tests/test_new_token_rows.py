"""The ``<|diff|>`` token on a base that lacks it: LoRA must learn to *write* it, also when the output layer is not
tied to the input embeddings (Qwen2.5 converted from GGUF keeps a separate ``lm_head``).

Found on the real 0.5B: the first adapter trained only the token's input row, so its output row stayed at a random
draw that was not saved; the loaded adapter gave ``<|diff|>`` a log-probability near -18 where it belongs and never
wrote a separator. These tests train a tiny untied Llama for real and load the result through the runtime.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model_runtime.edits import DIFF_TOKEN
from model_runtime.loading import clear_cache, load_model
from tests.support import tiny_model
from tests.support.small_programs import PROGRAMS as SMALL_PROGRAMS
from training import finetune
from training.corpus import Program
from training.datasets import lintseq_records, write_records
from training.evaluation.separator import separator_logprob
from training.train_config import TrainConfig

PROGRAMS = [SMALL_PROGRAMS[0], SMALL_PROGRAMS[3]]  # largest, sum_squares


@pytest.fixture(scope="module")
def untied_base(tmp_path_factory):
    """A tiny Llama with separate input and output embeddings whose tokenizer has no ``<|diff|>``, and records."""
    root = tmp_path_factory.mktemp("untied")
    tokenizer = tiny_model.build_tokenizer(with_diff_token=False)
    model = tiny_model.build_model(len(tokenizer))
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    model.save_pretrained(root / "model", safe_serialization=True)
    tokenizer.save_pretrained(root / "model")
    programs = [Program(i, p, "demo", "MIT", f"{n}.py") for n, (i, p) in enumerate(PROGRAMS)]
    records, failed = lintseq_records(programs, samples=3, seed=0)
    assert failed == 0
    write_records(root / "records.jsonl", records)
    return root, records


def _diff_logprob(loaded, records) -> float:
    """Mean log-probability the model gives ``<|diff|>`` where the training text has it (teacher forced)."""
    return separator_logprob(loaded, records, "plain")["separator_logprob"]


def test_a_new_token_starts_at_the_mean_row_on_every_load(untied_base):
    root, _ = untied_base
    clear_cache()
    first = load_model(root / "model", device="cpu", reload=True)
    second = load_model(root / "model", device="cpu", reload=True)
    diff = first.diff_token_id
    for a, b in ((first.model.lm_head, second.model.lm_head), (first.model.model.embed_tokens,) * 2):
        assert torch.equal(a.weight[diff], b.weight[diff])
    head = first.model.lm_head.weight
    assert torch.allclose(head[diff], head[:diff].mean(dim=0))


def test_lora_learns_to_write_the_diff_token_on_an_untied_base(untied_base):
    root, records = untied_base
    config = TrainConfig(
        model=str(root / "model"), data=str(root / "records.jsonl"), out=str(root / "run"), format="plain",
        max_length=256, rows=2, grad_accum=1, max_steps=30, save_every=30, eval_every=30, lr=2e-2, threads=1, seed=0,
    )  # fmt: skip
    final = finetune.train(config, progress=False, log=lambda *_: None)

    saved = load_file(Path(final) / "adapter_model.safetensors")
    token_rows = [name for name in saved if "trainable_tokens" in name]
    assert any("lm_head" in name for name in token_rows) and any(
        "embed_tokens" in name for name in token_rows
    )

    clear_cache()
    base = load_model(root / "model", device="cpu", reload=True)
    before = _diff_logprob(base, records)
    adapted = load_model(root / "model", device="cpu", adapter=str(final), reload=True)
    after = _diff_logprob(adapted, records)
    assert adapted.tokenizer.convert_ids_to_tokens(adapted.diff_token_id) == DIFF_TOKEN
    # Without the output row the score does not move at all (measured: -4.63 before, -4.64 after).
    assert after > before + 1.0, (before, after)
