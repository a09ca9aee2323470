"""Records, formats and tokens: the response alone carries loss, and packed examples never see each other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.edits import DIFF_TOKEN, edits_from_states, training_text
from training import datasets
from training.corpus import Program
from training.pretrain import TinyShape, build_tiny_model

STATES = ["", "def f(x):\n    return x", "def f(x):\n    y = x * 2\n    return y"]
LINTSEQ = {
    "kind": "lintseq",
    "instruction": "Double x.",
    "edits": edits_from_states(STATES),
    "split": "train",
}
BASELINE = {"kind": "baseline", "instruction": "Double x.", "program": STATES[-1], "split": "train"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny Llama and its BPE tokenizer (with a ChatML template), made in a second."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = [training_text("Double x.", LINTSEQ["edits"]), STATES[-1]] * 20
    path = build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, vocab_size=300, shape=TinyShape(layers=1))
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def test_plain_lintseq_text_is_the_reference_format_split_after_the_first_separator():
    head, response = datasets.plain_texts(LINTSEQ, "<eos>")
    assert head + response == training_text("Double x.", LINTSEQ["edits"], "<eos>")
    assert head == "Double x.\n" + DIFF_TOKEN


def test_plain_baseline_text_is_instruction_newline_program_eos():
    assert datasets.plain_texts(BASELINE, "<eos>") == ("Double x.\n", STATES[-1] + "<eos>")


def test_chat_format_puts_the_instruction_in_the_user_turn_and_the_edits_in_the_assistant_turn(tiny):
    _, tokenizer = tiny
    head, response = datasets.texts(LINTSEQ, tokenizer, "chat")
    assert head == "<|im_start|>user\nDouble x.<|im_end|>\n<|im_start|>assistant\n" + DIFF_TOKEN
    assert response == datasets.plain_texts(LINTSEQ, tokenizer.eos_token)[1]
    assert response.endswith("<|im_end|>")


def test_chat_format_needs_a_chat_template(tiny):
    _, tokenizer = tiny
    bare = type("Bare", (), {"chat_template": None, "eos_token": "</s>"})()
    with pytest.raises(ValueError, match="chat template"):
        datasets.texts(LINTSEQ, bare, "chat")
    with pytest.raises(ValueError, match="unknown format"):
        datasets.texts(LINTSEQ, tokenizer, "fancy")


@pytest.mark.parametrize("fmt", datasets.FORMATS)
@pytest.mark.parametrize("record", [LINTSEQ, BASELINE], ids=["lintseq", "baseline"])
def test_labels_cover_exactly_the_response_tokens(tiny, fmt, record):
    _, tokenizer = tiny
    head, response = datasets.texts(record, tokenizer, fmt)
    example = datasets.tokenize(tokenizer, head, response)
    n_prompt = sum(1 for label in example.labels if label == datasets.IGNORE)
    assert tokenizer.decode(example.input_ids[:n_prompt]) == head
    assert tokenizer.decode([t for t in example.labels if t != datasets.IGNORE]) == response
    assert all(label == datasets.IGNORE for label in example.labels[:n_prompt])


def test_examples_longer_than_the_limit_are_left_out_and_counted(tiny):
    _, tokenizer = tiny
    long = dict(BASELINE, program="x = 1\n" * 200)
    examples, too_long = datasets.tokenize_records([BASELINE, long], tokenizer, "plain", max_length=64)
    assert len(examples) == 1 and too_long == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30), st.integers(40, 100))
def test_packing_keeps_every_token_once_and_rows_within_the_limit(lengths, limit):
    examples = [datasets.Example(tuple([i] * n), tuple([i] * n)) for i, n in enumerate(lengths)]
    rows = datasets.pack(examples, limit)
    assert all(len(r.input_ids) <= limit for r in rows)
    assert sorted(t for r in rows for t in r.input_ids) == sorted(t for e in examples for t in e.input_ids)
    for row in rows:  # positions restart at 0 at the start of each example
        starts = [i for i, p in enumerate(row.position_ids) if p == 0]
        assert len(starts) == row.n_examples
    assert sum(r.n_examples for r in rows) == len(examples)


def test_packed_examples_do_not_attend_to_each_other(tiny):
    """Each packed example's logits equal its logits alone, so no example sees another (block-diagonal mask)."""
    model, tokenizer = tiny
    records = [LINTSEQ, BASELINE, dict(BASELINE, instruction="Something else entirely.")]
    examples, _ = datasets.tokenize_records(records, tokenizer, "plain", max_length=256)
    [row] = datasets.pack(examples, 256)
    batch = datasets.collate([row], tokenizer.pad_token_id)
    with torch.no_grad():
        # A key-value cache turns off transformers' packed-sequence detection: training never uses one.
        packed = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits[0]
        offset = 0
        for i in sorted(range(len(examples)), key=lambda i: (-len(examples[i]), i)):  # pack's order
            alone = model(input_ids=torch.tensor([examples[i].input_ids])).logits[0]
            n = len(examples[i])
            torch.testing.assert_close(packed[offset : offset + n], alone, atol=1e-4, rtol=1e-4)
            offset += n


def test_collate_pads_with_ignored_labels_and_fresh_positions():
    rows = [
        datasets.PackedRow((5, 6, 7), (-100, 6, 7), (0, 1, 2), 1),
        datasets.PackedRow((8,), (8,), (0,), 1),
    ]
    batch = datasets.collate(rows, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 1]]


def test_baseline_and_lintseq_records_come_from_the_same_programs():
    program = Program("Double x.", STATES[-1], "demo", "MIT", "a.py", "f", "valid")
    [baseline] = datasets.baseline_records([program])
    assert baseline == {**BASELINE, "split": "valid", "source": "demo"}
    records = datasets.lintseq_records_for(program, [LINTSEQ["edits"], []])
    assert records == [{**LINTSEQ, "split": "valid", "source": "demo"}]


def test_lintseq_records_use_the_sampler_and_every_sequence_rebuilds_the_program():
    from model_runtime.edits import parse_sequence, render_sequence

    program = Program("Double x.", STATES[-1], "demo", "MIT", "a.py")
    records, failed = datasets.lintseq_records([program], samples=3, seed=0)
    assert failed == 0 and len(records) == 3
    for record in records:
        sequence = parse_sequence(render_sequence(record["instruction"], record["edits"]))
        assert sequence.program() == STATES[-1]


def test_records_file_errors_name_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(LINTSEQ) + "\n" + json.dumps({"instruction": "no body"}) + "\n")
    with pytest.raises(ValueError, match=r"r.jsonl:2: a record needs"):
        datasets.read_records(path)
    path.write_text(json.dumps({"edits": ["@@ -0,0 +1 @@\n+x = 1"]}) + "\n")
    assert datasets.read_records(path) == [
        {"edits": ["@@ -0,0 +1 @@\n+x = 1"], "kind": "lintseq", "instruction": "", "split": "train"}
    ]


def test_data_commands_turn_a_source_tree_into_lintseq_and_baseline_records(tmp_path):
    tree = tmp_path / "src"
    tree.mkdir()
    (tree / "m.py").write_text(
        'def double_all(xs):\n    """Double every item."""\n    out = []\n    for x in xs:\n        out.append(2 * x)\n'
        "    return out\n"
    )
    root = Path(__file__).resolve().parents[1]

    def editseq(*args):
        done = subprocess.run(
            [sys.executable, "-m", "training.cli", *args], cwd=root, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    programs, manifest = tmp_path / "p.jsonl", tmp_path / "manifest.json"
    editseq(
        "data",
        "corpus",
        "--tree",
        str(tree),
        "--licence",
        "MIT",
        "-o",
        str(programs),
        "--manifest",
        str(manifest),
    )
    assert json.loads(manifest.read_text())["sources"][0]["programs"] == 1
    editseq("data", "records", str(programs), "-o", str(tmp_path / "l.jsonl"), "-s", "2")
    editseq("data", "records", str(programs), "-o", str(tmp_path / "b.jsonl"), "--kind", "baseline")
    lintseq = datasets.read_records(tmp_path / "l.jsonl")
    [baseline] = datasets.read_records(tmp_path / "b.jsonl")
    assert len(lintseq) == 2 and all(r["kind"] == "lintseq" for r in lintseq)
    assert (
        baseline["program"]
        == "def double_all(xs):\n    out = []\n    for x in xs:\n        out.append(2 * x)\n    return out"
    )


def test_data_corpus_skips_a_tree_whose_licence_is_not_permissive(tmp_path):
    (tmp_path / "m.py").write_text('def f(x):\n    """Doc."""\n    y = x\n    z = y\n    return z\n')
    done = subprocess.run(
        [sys.executable, "-m", "training.cli", "data", "corpus", "--tree", str(tmp_path), "--licence", "GPL-3.0",
         "-o", str(tmp_path / "p.jsonl")],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and "not permissive" in done.stdout
