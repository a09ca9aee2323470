"""What running a long prompt in chunks costs and buys: prefill time and cancellation latency with the prompt run
in one forward pass (what every call did before) against chunks of 128, 256 and 512 tokens, same model and prompt.

    python benchmarks/prefill_chunks.py [--repeats 5] [--tokens 1000,2000] [--chunks 0,128,256,512]

The prompt is the whole of the standard library's ``textwrap.py`` as an EditSeq prompt, cut to each token count.
Needs the default model (``editseq model install``). Columns, p50 over the repeats with the prompt cache cleared:
time to the first token of a 1-token call (the prefill), and how long a call takes to stop after its cancel flag is
set at a random moment of the prefill (p50 and max). Chunk 0 is the one-pass baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import sysconfig
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_runtime import generation, prefill  # noqa: E402
from model_runtime.default_model import is_installed, load_default  # noqa: E402
from model_runtime.prompts import build_prompt  # noqa: E402
from model_runtime.suggestions import head_for  # noqa: E402

TEXTWRAP = Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py"


def prefill_s(loaded, prompt: str) -> float:
    loaded.prompt_cache = None
    return generation.generate(loaded, prompt, temperature=0, max_new_tokens=1).timings.first_token_s


def cancel_latency_s(loaded, prompt: str, after_s: float) -> float:
    """Seconds from setting the cancel flag ``after_s`` into the call to the call giving up."""
    loaded.prompt_cache = None
    cancel = threading.Event()
    stopped: list[float] = []

    def run() -> None:
        try:
            generation.generate(loaded, prompt, temperature=0, max_new_tokens=1, cancel=cancel)
        except generation.Cancelled:
            pass
        stopped.append(time.perf_counter())

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(after_s)
    set_at = time.perf_counter()
    cancel.set()
    worker.join()
    return max(0.0, stopped[0] - set_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", default="1000,2000", help="prompt lengths in tokens, comma-separated")
    parser.add_argument(
        "--chunks", default="0,128,256,512", help="chunk sizes; 0 = the whole prompt in one pass"
    )
    args = parser.parse_args()
    if not is_installed():
        sys.exit("the default model is not installed: run `editseq model install`")
    loaded = load_default(device="cpu")
    text = build_prompt(TEXTWRAP.read_text(encoding="utf-8"), line=0, head=head_for(loaded), window=0).text
    ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    rng = random.Random(0)
    head = f"{'prompt tokens':>13} {'chunk':>6} {'prefill s':>10} {'cancel p50 ms':>14} {'cancel max ms':>14}"
    print(f"\n{TEXTWRAP.name} prompt, {args.repeats} repeats, {prefill.PREFILL_CHUNK=} by default\n")
    print(head)
    print("-" * len(head))
    for count in (int(t) for t in args.tokens.split(",")):
        prompt = loaded.tokenizer.decode(ids[:count])
        prefill_s(loaded, prompt)  # warm-up
        for chunk in (int(c) for c in args.chunks.split(",")):
            prefill.PREFILL_CHUNK = chunk or 10**9
            times = [prefill_s(loaded, prompt) for _ in range(args.repeats)]
            p50 = statistics.median(times)
            waits = [
                cancel_latency_s(loaded, prompt, rng.uniform(0.05, 0.9) * p50) * 1000
                for _ in range(args.repeats)
            ]
            label = chunk or "whole"
            print(
                f"{count:>13} {label:>6} {p50:>10.3f} {statistics.median(waits):>14.0f} {max(waits):>14.0f}"
            )


if __name__ == "__main__":
    main()
