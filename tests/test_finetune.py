"""The training loop on a tiny Llama: LoRA and full finetuning end to end, and an exact resume after a real kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model_runtime.edits import DIFF_TOKEN, training_text
from tests.support.small_programs import PROGRAMS
from training import finetune
from training.checkpoints import latest_checkpoint
from training.corpus import Program
from training.datasets import lintseq_records, write_records
from training.pretrain import TinyShape, build_tiny_model
from training.train_config import TrainConfig, epoch_order, lr_factor, micro_batch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model directory and a records file (LintSeq samples of four programs, one held out)."""
    root = tmp_path_factory.mktemp("finetune")
    programs = [
        Program(instruction, program, "demo", "MIT", f"{i}.py", split="valid" if i == 3 else "train")
        for i, (instruction, program) in enumerate(PROGRAMS)
    ]
    records, failed = lintseq_records(programs, samples=4, seed=0)
    assert failed == 0
    write_records(root / "records.jsonl", records)
    texts = [training_text(r["instruction"], r["edits"]) for r in records]
    model = build_tiny_model(root / "model", texts, vocab_size=400, shape=TinyShape(layers=2))
    return root, model


def _config(setup, out: str, **overrides) -> TrainConfig:
    root, model = setup
    values = dict(
        model=str(model), data=str(root / "records.jsonl"), out=str(root / out), format="plain", max_length=256,
        rows=2, grad_accum=2, max_steps=8, save_every=4, eval_every=4, lr=5e-3, threads=1, seed=0,
    )  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def _metrics(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "tokens_per_s"} for row in rows]


def test_lora_training_lowers_the_loss_and_saves_a_small_adapter_the_runtime_loads(setup):
    config = _config(setup, "lora", max_steps=12, eval_every=6)
    final = finetune.train(config, progress=False, log=lambda *_: None)
    metrics = _metrics(Path(config.out))
    assert [m["step"] for m in metrics] == list(range(1, 13))
    assert metrics[-1]["valid_loss"] < metrics[5]["valid_loss"] and metrics[-1]["loss"] < metrics[0]["loss"]
    weights = load_file(final / "adapter_model.safetensors")
    assert any("lora_A" in name for name in weights)
    assert not any(v.numel() >= 400 * 64 for v in weights.values()), "the whole embedding matrix was saved"
    assert (Path(config.out) / "loss.png").stat().st_size > 1000

    from model_runtime.loading import load_model

    loaded = load_model(config.model, device="cpu", adapter=str(final))
    assert loaded.tokenizer.convert_ids_to_tokens(loaded.diff_token_id) == DIFF_TOKEN


def test_full_finetuning_saves_a_whole_model_with_the_diff_token(setup):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = _config(setup, "full", lora=False, max_steps=4)
    final = finetune.train(config, progress=False, log=lambda *_: None)
    tokenizer = AutoTokenizer.from_pretrained(final)
    model = AutoModelForCausalLM.from_pretrained(final)
    assert DIFF_TOKEN in tokenizer.get_vocab()
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    before = AutoModelForCausalLM.from_pretrained(config.model)
    assert not torch.equal(
        model.model.layers[0].mlp.up_proj.weight, before.model.layers[0].mlp.up_proj.weight
    )


def test_lora_can_be_merged_into_the_base_on_request(setup):
    from transformers import AutoModelForCausalLM

    config = _config(setup, "merged", max_steps=2, merge=True)
    finetune.train(config, progress=False, log=lambda *_: None)
    merged = AutoModelForCausalLM.from_pretrained(Path(config.out) / "merged")
    assert not any("lora" in name for name, _ in merged.named_parameters())


def _train_command(config: TrainConfig) -> list[str]:
    return [
        sys.executable, "-m", "training.cli", "train", config.data, "--model", config.model, "--out", config.out,
        "--format", "plain", "--max-length", str(config.max_length), "--rows", str(config.rows), "--grad-accum",
        str(config.grad_accum), "--max-steps", str(config.max_steps), "--save-every", str(config.save_every),
        "--eval-every", str(config.eval_every), "--lr", str(config.lr), "--threads", "1", "--seed", "0",
    ]  # fmt: skip


def test_a_run_killed_mid_training_resumes_to_the_same_metrics_and_weights(setup):
    """Kill a real training process right after its first checkpoint, resume it, compare with an unbroken run."""
    steps = 30  # long enough that the kill lands mid-run even on a fast machine
    whole = _config(setup, "whole", max_steps=steps, save_every=3, eval_every=10)
    finetune.train(whole, progress=False, log=lambda *_: None)

    broken = _config(setup, "broken", max_steps=steps, save_every=3, eval_every=10)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        _train_command(broken), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    latest = Path(broken.out) / "latest"
    deadline = time.monotonic() + 240
    while not latest.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = latest_checkpoint(Path(broken.out))
    assert killed_at is not None and not (Path(broken.out) / "final").exists()

    resumed = subprocess.run(
        [*_train_command(broken), "--resume"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout

    expected, got = _metrics(Path(whole.out)), _metrics(Path(broken.out))
    assert [m["step"] for m in got] == list(range(1, steps + 1))
    for a, b in zip(expected, got, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["step"], key)
    final_a = load_file(Path(whole.out) / "final" / "adapter_model.safetensors")
    final_b = load_file(Path(broken.out) / "final" / "adapter_model.safetensors")
    assert final_a.keys() == final_b.keys()
    for name in final_a:
        torch.testing.assert_close(final_a[name], final_b[name], rtol=1e-5, atol=1e-6)


def test_resume_refuses_a_run_directory_made_with_other_data(setup, tmp_path):
    config = _config(setup, "refuse", max_steps=2, save_every=2)
    finetune.train(config, progress=False, log=lambda *_: None)
    other = tmp_path / "other.jsonl"
    other.write_text(Path(config.data).read_text())
    with pytest.raises(ValueError, match="another data file"):
        finetune.train(
            _config(setup, "refuse", max_steps=4, data=str(other)),
            resume=True,
            progress=False,
            log=lambda *_: None,
        )


def test_an_interrupted_checkpoint_write_is_never_taken_for_a_checkpoint(tmp_path):
    (tmp_path / "checkpoint-000004").mkdir()
    (tmp_path / "checkpoint-000004" / "trainer_state.json").write_text("{}")
    (tmp_path / ".checkpoint-000006.tmp").mkdir()
    (tmp_path / "checkpoint-000008").mkdir()  # renamed but incomplete cannot happen; still ignored
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-000004"


def test_learning_rate_warms_up_then_decays_to_zero():
    factors = [lr_factor(s, 10, 2, "linear") for s in range(10)]
    assert factors[:3] == [0.5, 1.0, 1.0] and factors[-1] == pytest.approx(1 / 8)
    assert lr_factor(10, 10, 2, "linear") == 0.0
    assert lr_factor(2, 10, 2, "cosine") == 1.0 and lr_factor(10, 10, 2, "cosine") == 0.0
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(0, 10, 0, "step")


def test_data_order_depends_only_on_seed_and_epoch():
    order = epoch_order(10, seed=3, epoch=1)
    assert sorted(order) == list(range(10))
    assert order == epoch_order(10, seed=3, epoch=1) != epoch_order(10, seed=3, epoch=2)
    cache: dict = {}
    run = [micro_batch(cache, 10, 2, 3, m) for m in range(10)]
    assert sorted(i for batch in run[:5] for i in batch) == list(range(10))  # one epoch is every row once


def test_export_publishes_the_latest_adapter_with_a_model_card(setup, tmp_path):
    from training.model_card import export

    config = _config(setup, "export", max_steps=4, save_every=2, eval_every=2)
    finetune.train(config, progress=False, log=lambda *_: None)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"sources": [
        {"source": "demo", "licence": "MIT", "files": 4, "programs": 4, "train": 3, "valid": 1}
    ]}))  # fmt: skip
    dest = export(Path(config.out), tmp_path / "adapter", manifest_path=manifest)
    assert (dest / "adapter_model.safetensors").read_bytes() == (
        Path(config.out) / "checkpoint-000004" / "adapter_model.safetensors"
    ).read_bytes()
    card = (dest / "README.md").read_text()
    assert "4 of 4 planned optimizer steps" in card
    assert "| demo | MIT | 4 | 4 | 3 | 1 |" in card
    assert "r = 16, alpha = 32" in card and (dest / "loss.png").is_file()
    assert "added here when measured" in card  # no evaluation yet

    # The checkpoint with the lowest validation loss, or one by name, instead of the latest.
    valid = {m["step"]: m["valid_loss"] for m in _metrics(Path(config.out)) if "valid_loss" in m}
    best = min(valid, key=valid.get)
    chosen = export(Path(config.out), tmp_path / "best", manifest_path=manifest, checkpoint="best")
    assert json.loads((chosen / "trainer_state.json").read_text())["step"] == best
    assert f"Checkpoint `checkpoint-{best:06d}`" in (chosen / "README.md").read_text()
    named = export(
        Path(config.out), tmp_path / "named", manifest_path=manifest, checkpoint="checkpoint-000002"
    )
    assert json.loads((named / "trainer_state.json").read_text())["step"] == 2
    with pytest.raises(ValueError, match="no complete checkpoint 'checkpoint-000003'"):
        export(Path(config.out), tmp_path / "none", manifest_path=manifest, checkpoint="checkpoint-000003")


def _results_file(path: Path, config: dict, passed: list[int]) -> Path:
    """A HumanEval results JSONL as `run_humaneval` writes it: one record per problem, n = 2; of each problem's
    two samples the first is a well-formed edit sequence, the second is not."""
    raws = ["@@ -0,0 +1 @@\n+x = 1", "@@ broken"]
    rows = [
        {"task_id": f"HumanEval/{i}", "config": config, "n": 2, "passed": c,
         "diversity": {"distinct_programs": 1.0, "distinct_asts": 0.5},
         "samples": [{"verdict": "passed" if s < c else "failed", "raw": raws[s]} for s in range(2)]}
        for i, c in enumerate(passed)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_export_puts_the_humaneval_table_in_the_card_and_refuses_empty_results(setup, tmp_path):
    from training.model_card import export

    config = _config(setup, "export-eval", max_steps=2, save_every=2, eval_every=2)
    finetune.train(config, progress=False, log=lambda *_: None)
    results = _results_file(
        tmp_path / "adapter-run.jsonl",
        {"model": "/cache/smollm2", "adapter": "models/lintseq-adapter", "mode": "lintseq", "chat": True},
        [2, 0],
    )
    dest = export(
        Path(config.out), tmp_path / "adapter", manifest_path=tmp_path / "none.json", evaluation=[results]
    )
    card = (dest / "README.md").read_text()
    assert (
        "| smollm2 + lintseq-adapter lintseq chat | 2 | 2 | 50.0 | - | - | 1.00 | 0.50 | 50.0 | failed 2, passed 2 |"
        in card
    )
    assert "added here when measured" not in card

    # A scoreboard's tables (`editseq eval scoreboard`) go into the card as well.
    board = tmp_path / "board.json"
    board.write_text(json.dumps({"rows": [{"label": "adapter", "humaneval": results.name}], "ks": [1, 2]}))
    dest = export(
        Path(config.out), tmp_path / "adapter", manifest_path=tmp_path / "none.json", scoreboard=board
    )
    assert "| adapter | 50.0 (2) | 50.0 (2) | 50.0 | - | - |" in (dest / "README.md").read_text()
    board.write_text(json.dumps({"rows": [{"label": "adapter", "humaneval": "gone.jsonl"}]}))
    with pytest.raises(ValueError, match="no such results file"):
        export(Path(config.out), tmp_path / "other", manifest_path=tmp_path / "none.json", scoreboard=board)

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="has no results"):
        export(Path(config.out), tmp_path / "other", manifest_path=tmp_path / "none.json", evaluation=[empty])
    assert not (tmp_path / "other").exists()  # refused before anything was written


def test_export_refuses_a_run_without_checkpoints(tmp_path):
    from training.model_card import export

    with pytest.raises(ValueError, match="no complete checkpoint"):
        export(tmp_path, tmp_path / "adapter", manifest_path=tmp_path / "none.json")


def test_a_base_without_diff_token_gets_it_trained_and_the_runtime_restores_it(setup, tmp_path):
    """Like SmolLM2: the tokenizer lacks <|diff|>; training adds it and trains its embedding row in the adapter."""
    from model_runtime.loading import load_model

    root, _ = setup
    texts = [line for line in (root / "records.jsonl").read_text().splitlines()]
    base = build_tiny_model(tmp_path / "base", texts, vocab_size=400, diff_token=False)
    config = _config(setup, "no-diff", model=str(base), max_steps=3, save_every=3, lr=5e-2)
    final = finetune.train(config, progress=False, log=lambda *_: None)
    probe = "Sum the squares.\n<|diff|>@@ -0,0 +1 @@\n+def f(x):\n<|diff|>"
    logits = []
    for seed in (1, 2):  # the runtime's fresh row for <|diff|> is random; the adapter must overwrite it
        torch.manual_seed(seed)
        loaded = load_model(str(base), device="cpu", dtype="float32", adapter=str(final), reload=True)
        ids = loaded.tokenizer(probe, return_tensors="pt", add_special_tokens=False)["input_ids"]
        assert loaded.diff_token_id in ids[0].tolist()
        with torch.no_grad():
            logits.append(loaded.model(input_ids=ids).logits)
    torch.testing.assert_close(logits[0], logits[1])


def test_a_warm_start_from_a_published_adapter_continues_at_its_step(setup, tmp_path):
    """On another machine: the exported adapter resumes at its step, on the same data position, with its weights."""
    from training.model_card import export

    whole = _config(setup, "warm-whole", max_steps=6, save_every=4, eval_every=100)
    finetune.train(whole, progress=False, log=lambda *_: None)
    # Publish the step-4 checkpoint, as a commit made while the run was going would have.
    (Path(whole.out) / "latest").write_text("checkpoint-000004")
    published = export(Path(whole.out), tmp_path / "adapter", manifest_path=tmp_path / "none.json")
    assert json.loads((published / "trainer_state.json").read_text())["step"] == 4

    warm = _config(setup, "warm-second", max_steps=6, save_every=4, eval_every=100, warm_start=str(published))
    finetune.train(warm, progress=False, log=lambda *_: None)
    continued, reference = _metrics(Path(warm.out)), _metrics(Path(whole.out))
    assert [m["step"] for m in continued] == [5, 6]
    assert continued[0]["loss"] == pytest.approx(reference[4]["loss"], rel=1e-6)  # same weights, same batch
    assert continued[0]["tokens"] == reference[4]["tokens"]
    # Exported again, the adapter's metrics and card cover the whole run, not just the warm-started part.
    republished = export(Path(warm.out), tmp_path / "adapter", manifest_path=tmp_path / "none.json")
    history = _metrics(republished)
    assert [m["step"] for m in history] == [1, 2, 3, 4, 5, 6]
    assert history[0]["loss"] == reference[0]["loss"]
    assert f"(first step: {reference[0]['loss']:.4f})" in (republished / "README.md").read_text()


def _greedy_lintseq_answer(loaded, *, max_new_tokens: int) -> str:
    """The model's greedy answer to a small instruction in the LintSeq chat format (special tokens kept)."""
    from training.datasets import chat_prompt

    prompt = chat_prompt(loaded.tokenizer, 'def add(a, b):\n    """Return the sum of a and b."""')
    ids = loaded.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        out = loaded.model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    return loaded.tokenizer.decode(out[0, ids.shape[1] :])


@pytest.mark.slow
def test_the_committed_default_adapter_loads_on_the_installed_base_and_writes_diffs():
    from model_runtime.loading import ModelLoadError, load_model

    try:
        loaded = load_model("editseq-smollm2-135m-lintseq", device="cpu", dtype="float32", quantize="none")
    except ModelLoadError:
        pytest.skip("needs `editseq model install editseq-smollm2-135m-lintseq` and the committed adapter")
    text = _greedy_lintseq_answer(loaded, max_new_tokens=40)
    assert text.startswith("@@ -0,0 +1"), text


@pytest.mark.slow
def test_the_committed_qwen_adapter_writes_the_separator_on_its_untied_base():
    from model_runtime.loading import ModelLoadError, load_model

    try:
        loaded = load_model(
            "qwen2.5-coder-0.5b-instruct",
            adapter=str(ROOT / "models" / "editseq-qwen05-lintseq"),
            quantize="none",
        )
    except ModelLoadError:
        pytest.skip("needs `editseq model install qwen2.5-coder-0.5b-instruct`")
    text = _greedy_lintseq_answer(loaded, max_new_tokens=60)
    # The first adapter on this base never wrote <|diff|> (its output row was not trained): see docs/finetuning.md.
    assert text.startswith("@@ -0,0 +1") and DIFF_TOKEN in text, text


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rule")
def test_auto_precision_is_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    import model_runtime.quantize as quantize

    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(quantize, "native_bf16", lambda native=native: native)
        assert finetune.resolve_precision("auto") == expected
    assert finetune.resolve_precision("bf16") == "bf16"  # asked for explicitly: kept, emulated or not
    assert finetune.resolve_precision("fp32") == "fp32"
