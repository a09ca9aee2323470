"""What the prompt window buys on a long file: one suggestion with the default 80-line window against the whole file
in the prompt (``window=0``, what every prompt was before), same model, buffer, cursor and seeds.

    python benchmarks/window_latency.py [--repeats 3] [--file PATH] [--line N] [--k 1]

Default file: the standard library's ``textwrap.py`` (about 490 lines), cursor in ``TextWrapper._wrap_chunks``.
Needs the default model (``editseq model install``). Columns: prompt tokens, time to first token and whole call
(p50 over the repeats, cold: the prompt cache is cleared before each call), and validated suggestions of k.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_runtime.default_model import is_installed, load_default  # noqa: E402
from model_runtime.prompts import build_prompt  # noqa: E402
from model_runtime.suggestions import head_for, suggest  # noqa: E402
from model_runtime.windows import DEFAULT_WINDOW  # noqa: E402

TEXTWRAP = Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--file", type=Path, default=TEXTWRAP)
    parser.add_argument(
        "--line", type=int, default=None, help="1-based cursor line (default: in _wrap_chunks)"
    )
    parser.add_argument("--k", type=int, default=1)
    args = parser.parse_args()
    if not is_installed():
        sys.exit("the default model is not installed: run `editseq model install`")
    buffer = args.file.read_text(encoding="utf-8")
    lines = buffer.split("\n")
    line = (
        args.line - 1 if args.line else next(i for i, t in enumerate(lines) if "def _wrap_chunks" in t) + 20
    )
    loaded = load_default(device="cpu")
    print(f"\n{args.file} ({len(lines)} lines), cursor line {line + 1}, k={args.k}, {args.repeats} repeats\n")
    head = f"{'prompt':<18} {'tokens':>7} {'first token s':>14} {'total s':>8} {'valid':>6}"
    print(head)
    print("-" * len(head))
    for label, window in ((f"window {DEFAULT_WINDOW} lines", DEFAULT_WINDOW), ("whole file", 0)):
        prompt = build_prompt(buffer, line=line, head=head_for(loaded), window=window)
        tokens = len(loaded.tokenizer(prompt.text, add_special_tokens=False)["input_ids"])
        first, total, valid = [], [], []
        for seed in range(args.repeats):
            loaded.prompt_cache = None
            started = time.perf_counter()
            result = suggest(loaded, buffer, line=line, k=args.k, seed=seed, max_new_tokens=64, window=window)
            total.append(time.perf_counter() - started)
            first.append(result.timings.first_token_s if result.timings else float("nan"))
            valid.append(len(result.suggestions))
        print(
            f"{label:<18} {tokens:>7} {statistics.median(first):>14.2f} {statistics.median(total):>8.2f}"
            f" {sum(valid)}/{args.k * args.repeats:>3}"
        )


if __name__ == "__main__":
    main()
