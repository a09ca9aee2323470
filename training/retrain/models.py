"""The models of a retraining run: the one it starts from (``--base``), the adapter copy training continues,
scoring a model on the held-out data, and installing the trained adapter as the model directory."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.evaluation.git_history import GitCase
from training.retrain.history import VARIANT
from training.retrain.options import RetrainOptions
from training.retrain.report import summary_row

MODEL_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class Start:
    """The model training starts from: a base directory, and the adapter whose weights it continues (or None)."""

    base: str
    adapter: Path | None
    format: str  # plain | chat | auto


def resolve_start(spec: str) -> Start:
    """Where ``--base`` points: a registry name (``default``: the registry's default; an adapter entry continues
    its adapter), a model directory holding a LoRA adapter, or a causal LM directory."""
    from model_runtime.registry import catalog

    path = Path(spec).expanduser()
    entry = None if path.exists() else catalog.load().find(spec)
    if entry is not None:
        from model_runtime.registry.install import install_model

        base = str(install_model(entry.name))
        adapter = entry.adapter.directory() if entry.adapter else None
        if adapter is None or not (adapter / "adapter_model.safetensors").is_file():
            return Start(base, None, "auto")
        return Start(base, adapter, _recorded_format(adapter))
    if not path.is_dir():
        raise ValueError(
            f"--base {spec}: no such model directory or registry name (give 'default', a name or a directory)"
        )
    if (path / "adapter_config.json").is_file():
        from model_runtime.model_sources import adapter_base

        return Start(adapter_base(path), path.resolve(), _recorded_format(path))
    return Start(str(path.resolve()), None, "auto")


def _recorded_format(directory: Path) -> str:
    config = directory / "train_config.json"
    if config.is_file():
        recorded = json.loads(config.read_text()).get("format")
        if recorded in ("plain", "chat"):
            return recorded
    return "auto"


def warm_start_dir(adapter: Path, work: Path) -> Path:
    """A copy of ``adapter`` that ``finetune.train(warm_start=...)`` continues from at step 0 (new data, new run)."""
    target = work / "start-adapter"
    if not (target / "trainer_state.json").is_file():
        tmp = work / "start-adapter.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in MODEL_FILES:
            shutil.copy2(adapter / name, tmp / name)
        # The adapter's own step and data position refer to its own corpus; this run starts at the beginning.
        (tmp / "trainer_state.json").write_text(
            json.dumps({"step": 0, "micro": 0, "tokens": 0, "seconds": 0.0})
        )
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def score(
    spec: str,
    cases,
    valid_records,
    options: RetrainOptions,
    results: Path,
    log,
    history: Sequence[GitCase] = (),
) -> dict:
    """One model on the held-out data: the next-edit benchmark on the held-out files' cases and, when given, on
    the held-out ``history`` cases (rows resumed from ``results`` and its ``-history`` twin), and the validation
    loss. The per-case line F1 of the yardstick (history, else the files' cases) is kept for the verdict."""
    import contextlib
    import time

    from model_runtime.loading import clear_cache, load_model
    from model_runtime.suggestions import suggest
    from training.datasets import pack, tokenize_records
    from training.evaluation.next_edit import run_next_edit, summarise_rows
    from training.finetune import evaluate

    started = time.perf_counter()
    # Loaded as the language server loads ``modelPath``, so that it runs the strategy the editor would: a registry
    # entry its own (continue, for the Qwen models), a retrained directory (an adapter) the lintseq strategy.
    loaded = load_model(spec, device=options.device)
    config = {"model": loaded.source, "adapter": loaded.adapter, "k": options.k, "seed": options.seed,
              "max_new_tokens": options.max_new_tokens, "strategy": options.strategy}  # fmt: skip

    def run_one(case, strategy):
        return suggest(
            loaded, case.buffer, instruction=case.instruction, k=options.k, max_new_tokens=options.max_new_tokens,
            mode=strategy, seed=options.seed,
        )  # fmt: skip

    rows = run_next_edit(
        cases,
        [options.strategy],
        run_one,
        k=options.k,
        config=config,
        out=results,
        log=lambda m: log(f"  {m}"),
    )
    summary = summarise_rows(rows).get(options.strategy, {})
    history_rows = score_history(
        loaded, options, history, results.with_name(results.stem + "-history.jsonl"), log
    )
    loss = None
    examples, _ = tokenize_records(valid_records, loaded.tokenizer, loaded.prompt_format, options.max_length)
    packed = pack(examples, options.max_length)[: options.eval_rows]
    if packed:
        pad = loaded.tokenizer.pad_token_id
        pad = loaded.tokenizer.eos_token_id if pad is None else pad
        with loaded.lock:
            loss = evaluate(loaded.model, packed, pad, options.rows, loaded.device, contextlib.nullcontext)
            loaded.model.eval()  # evaluate() leaves the model in training mode for the loop that called it
    clear_cache()
    yardstick = history_rows or rows
    return summary_row(summary, loss) | {
        "history": history_summary(history_rows),
        "per_case": [{"case": r["case"], "line_f1": r["line_f1"]} for r in yardstick],
        "seconds": round(time.perf_counter() - started, 1),
    }


def score_history(loaded, options: RetrainOptions, cases: Sequence[GitCase], out: Path, log) -> list[dict]:
    """The top greedy suggestion for each held-out history case (the editor's first answer), scored and resumed."""
    from model_runtime.suggestions import suggest
    from training.evaluation.git_next_edit import run_git_next_edit
    from training.evaluation.git_symbols import case_symbols

    if not cases:
        return []

    def suggest_case(case, variant):
        buffer, cursor, recent = case.view(variant)
        return suggest(
            loaded, buffer, line=cursor, history=recent[-3:], k=1, temperature=0.0,
            max_new_tokens=options.max_new_tokens, **case_symbols(options.repo, case, variant),
        )  # fmt: skip

    config = {"model": loaded.source, "adapter": loaded.adapter, "k": 1, "temperature": 0.0,
              "max_new_tokens": options.max_new_tokens, "variant": VARIANT}  # fmt: skip
    log(f"  {len(cases)} held-out next edits from the git history")
    return run_git_next_edit(
        cases, [VARIANT], suggest_case, config=config, out=out, log=lambda m: log(f"  history {m}")
    )


def history_summary(rows: Sequence[dict]) -> dict | None:
    """Cases, offered, top-1 exact and mean line F1 of the history rows (None without history)."""
    from training.evaluation.git_next_edit import summarise

    if not rows:
        return None
    whole = next(s for s in summarise(rows) if s.subset == "all")
    return {"cases": whole.cases, "exact": whole.exact, "line_f1": whole.line_f1, "offered": whole.offered}


def install_model(final: Path, out: Path, config, options: RetrainOptions) -> None:
    """Copy the trained adapter and tokenizer into the model directory with a ``train_config.json`` that records
    the base, the format and where the data came from (``model_runtime.loading`` reads both)."""
    for item in final.iterdir():
        if item.is_file():
            shutil.copy2(item, out / item.name)
    recorded = config.to_json() | {"retrain": {"repo": str(options.repo.resolve()), "base": options.base}}
    (out / "train_config.json").write_text(json.dumps(recorded, indent=2) + "\n")
