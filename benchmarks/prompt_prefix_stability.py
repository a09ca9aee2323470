"""How much of a strategy's prompt survives a one-line edit: the tokens the per-document prompt cache can reuse.

    python benchmarks/prompt_prefix_stability.py [--model default] [--strategy continue] [--file PATH]

For the spots ``benchmarks/edit_latency.py`` times (a line typed back inside a function of ``textwrap.py``), the
prompt the strategy builds before and after the edit, tokenised with the model's tokenizer, and the length of their
common prefix: what ``generation.generate`` can take from the prompt cache instead of prefilling again. No model
forward pass runs (the strategy is stopped where it would call the model).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Stop(Exception):
    pass


def main() -> None:
    from benchmarks.edit_latency import edit_points
    from model_runtime.loading import load_model
    from model_runtime.strategies import STRATEGIES
    from model_runtime.strategies.base import Request

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--strategy", default="continue")
    parser.add_argument("--file", default=textwrap.__file__)
    parser.add_argument("--edits", type=int, default=12)
    args = parser.parse_args()

    loaded = load_model(args.model, device="cpu")
    prompts: list[str] = []

    def capture(_loaded, text, *_args, **_kwargs):
        prompts.append(text)
        raise _Stop

    import model_runtime.generation as generation_module

    lines = Path(args.file).read_text(encoding="utf-8").split("\n")
    print("| line | prompt tokens after the edit | common prefix | share |\n|---|---|---|---|")
    original = generation_module.generate
    for point in edit_points(lines, args.edits):
        pair = []
        for buffer, line in (
            ("\n".join(lines[:point] + lines[point + 2 :]), point),
            ("\n".join(lines[: point + 1] + lines[point + 2 :]), point + 1),
        ):
            prompts.clear()
            for module in list(sys.modules.values()):
                if getattr(module, "generate", None) is original:
                    module.generate = capture
            try:
                STRATEGIES[args.strategy](loaded, Request(buffer, line=line, k=1, temperature=0))
            except _Stop:
                pass
            finally:
                for module in list(sys.modules.values()):
                    if getattr(module, "generate", None) is capture:
                        module.generate = original
            pair.append(loaded.tokenizer(prompts[0], add_special_tokens=False)["input_ids"])
        before, after = pair
        common = next(
            (i for i, (x, y) in enumerate(zip(before, after, strict=False)) if x != y),
            min(len(before), len(after)),
        )
        print(f"| {point + 1} | {len(after)} | {common} | {common / len(after):.0%} |")


if __name__ == "__main__":
    main()
