"""Tiny models from scratch: a byte-level BPE tokenizer with <|diff|>, a small Llama, next-token pretraining."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.edits import DIFF_TOKEN
from training.pretrain import line_chunks, train_tokenizer

ROOT = Path(__file__).resolve().parents[1]
CODE = textwrap.dedent(
    '''
    def mean(xs):
        """Average of xs."""
        total = 0
        for x in xs:
            total += x
        return total / len(xs)


    def clamp(x, low, high):
        return max(low, min(x, high))
    '''
)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([CODE] * 10, vocab_size=320)


def test_diff_token_is_one_token_and_never_split(tokenizer):
    ids = tokenizer(f"x = 1\n{DIFF_TOKEN}@@ -1,0 +2 @@", add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_tokens_to_ids(DIFF_TOKEN) in ids
    assert len(tokenizer(DIFF_TOKEN, add_special_tokens=False)["input_ids"]) == 1


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60))
def test_byte_level_tokenizer_round_trips_any_text(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_tokenizer_has_a_chat_template_for_chat_format_tests(tokenizer):
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_line_chunks_cover_every_line_once():
    text = "\n".join(f"line{i}" for i in range(10))
    assert line_chunks(text, 4) == [
        "line0\nline1\nline2\nline3",
        "line4\nline5\nline6\nline7",
        "line8\nline9",
    ]


def test_editseq_pretrain_trains_a_small_llama_on_a_source_tree(tmp_path):
    tree = tmp_path / "src"
    for i in range(6):
        (tree / "pkg").mkdir(parents=True, exist_ok=True)
        (tree / "pkg" / f"m{i}.py").write_text(CODE.replace("mean", f"mean{i}"))
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "training.cli", "pretrain", str(tree), "--out", str(out), "--vocab-size", "300",
         "--steps", "12", "--max-length", "128", "--threads", "1", "--lr", "3e-3"],
        cwd=ROOT, capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and rows[-1]["loss"] < rows[0]["loss"]

    from model_runtime.loading import load_model

    loaded = load_model(str(out / "final"), device="cpu")
    assert loaded.model.config.num_hidden_layers == 2
    assert loaded.tokenizer.convert_ids_to_tokens(loaded.diff_token_id) == DIFF_TOKEN


def test_pretrain_refuses_a_tree_without_python_files(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "training.cli", "pretrain", str(tmp_path), "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2 and "no usable Python files" in done.stderr
