"""What a training step computes, made cheaper: logits only where a label needs one, and frozen LoRA base weights
stored in bf16 so autocast stops casting them. Both must leave the loss and the gradients as they were."""

from __future__ import annotations

import copy

import pytest
import torch

from training import frozen_weights
from training.datasets import collate, pack, tokenize_records
from training.loss import _takes_logits_to_keep, response_loss
from training.pretrain import TinyShape, build_tiny_model

RECORDS = [
    {"kind": "baseline", "instruction": f"Return {word}.", "program": f"def f{i}():\n    return {word!r}"}
    for i, word in enumerate(["one", "two", "three", "four", "five", "six"])
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny Llama with LoRA attached, its weights rounded to bf16 (as a checkpoint saved in bf16), and a batch."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = [r["instruction"] + "\n" + r["program"] for r in RECORDS]
    path = build_tiny_model(tmp_path_factory.mktemp("step"), texts, vocab_size=300, shape=TinyShape(layers=2))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).to(torch.float32))
    tokenizer = AutoTokenizer.from_pretrained(path)
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj"], task_type="CAUSAL_LM"
    )
    model = get_peft_model(model, lora)
    examples, _ = tokenize_records(RECORDS, tokenizer, "plain", 64)
    rows = pack(examples, 64)
    return model, collate(rows[:2], tokenizer.eos_token_id)


def _step(model, batch, every_position=False):
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, count = response_loss(model, batch, "cpu", every_position=every_position)
    (loss / count).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), count, grads


def test_logits_only_where_labels_are_give_the_same_loss_and_gradients(tiny):
    model, batch = tiny
    labels = batch["labels"][:, 1:]
    assert (labels == -100).any(dim=0).any()  # some positions are prompt in every row: they are skipped
    loss, count, grads = _step(model, batch)
    all_loss, all_count, all_grads = _step(model, batch, every_position=True)
    assert count == all_count == int((labels != -100).sum())
    torch.testing.assert_close(loss, all_loss, rtol=1e-4, atol=1e-4)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, all_grads[name], rtol=1e-3, atol=1e-5)


def test_models_without_logits_to_keep_get_every_position():
    from transformers import LlamaForCausalLM

    class Plain(torch.nn.Module):
        def forward(self, input_ids, position_ids, use_cache): ...

    assert _takes_logits_to_keep(LlamaForCausalLM)
    assert not _takes_logits_to_keep(Plain)


def test_frozen_weights_stored_in_bf16_change_nothing_autocast_computes(tiny):
    model, batch = tiny
    narrow = copy.deepcopy(model)
    stored = frozen_weights.store_in(narrow, torch.bfloat16)
    linear = [m for m in narrow.modules() if isinstance(m, torch.nn.Linear)]
    frozen = [
        m
        for m in linear
        if not m.weight.requires_grad and m.weight is not narrow.get_input_embeddings().weight
    ]
    assert stored == len(frozen) > 0
    assert all(m.weight.dtype == torch.bfloat16 for m in frozen)
    assert all(m.weight.dtype == torch.float32 for m in linear if m.weight.requires_grad)  # LoRA A and B
    assert (
        narrow.get_input_embeddings().weight.dtype == torch.float32
    )  # tied to lm_head: looked up outside autocast
    loss, _, grads = _step(model, batch)
    narrow_loss, _, narrow_grads = _step(narrow, batch)
    assert torch.equal(loss, narrow_loss)
    assert all(torch.equal(grads[name], narrow_grads[name]) for name in grads)
    frozen_weights.restore(narrow)
    assert all(m.weight.dtype == torch.float32 for m in linear)
    for (name, a), (_, b) in zip(model.named_parameters(), narrow.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_weights_bf16_would_round_stay_float32(tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    path = build_tiny_model(tmp_path, ["x = 1\n"], vocab_size=280, shape=TinyShape(layers=1))
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32),
        LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"),
    )
    assert frozen_weights.store_in(model, torch.bfloat16) == 0
    assert all(p.dtype == torch.float32 for p in model.parameters())
