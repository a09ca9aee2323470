"""The model zoo side by side: for every installed registry model, load time (cold and cached), prefill and decode
tokens/s at 1 and 2 threads, peak RSS, next to its measured quality rows (``model_runtime/registry/measured.json``).

    python benchmarks/model_zoo.py [--models a,b] [--threads 1,2] [--prompt-tokens 1000] [--new-tokens 64]
                                   [--no-drop-caches] [--json OUT]

Each (model, thread count) runs in its own process, so that its peak RSS is its own: it loads the model as the
editor does (``load_model(name)``: the registry's CPU quantisation), then runs a prompt of ``--prompt-tokens``
tokens cut from the standard library's ``textwrap.py`` with one new token (prefill tokens/s = prompt tokens / time
to the first token), then decodes ``--new-tokens`` greedy tokens after it without speculation (decode tokens/s, the
plain decode loop; the prompt comes from the cache). "cold" loads right after dropping the OS page cache (as root;
``--no-drop-caches`` or no permission: the first load of the run, said so in the table); "cached" is the
next load. Quality columns come from ``measured.json``, each row with the command that made it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def drop_page_cache() -> bool:
    """Drop the OS page cache (root only); whether it was dropped."""
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def child(name: str, threads: int, prompt_tokens: int, new_tokens: int) -> dict:
    """Measure one model at one thread count in this process; the figures as a dict."""
    from model_runtime.generation import generate
    from model_runtime.loading import load_model
    from model_runtime.threads import limit_torch_threads

    limit_torch_threads(threads)
    started = time.perf_counter()
    loaded = load_model(name, device="cpu")
    load_s = time.perf_counter() - started
    ids = loaded.tokenizer(Path(textwrap.__file__).read_text(encoding="utf-8"), add_special_tokens=False)
    prompt = loaded.tokenizer.decode(ids["input_ids"][:prompt_tokens])
    generate(loaded, prompt[:200], temperature=0, max_new_tokens=2, speculate=0)  # warm-up, another prompt
    loaded.prompt_cache = None
    first = generate(loaded, prompt, temperature=0, max_new_tokens=1, speculate=0, stop="eos")
    decode = generate(loaded, prompt, temperature=0, max_new_tokens=new_tokens, speculate=0, stop="eos")
    decoded = decode.timings.new_tokens - 1  # the first new token comes from the cached prompt's logits
    return {
        "model": name,
        "quantization": loaded.quantization,
        "threads": threads,
        "load_s": round(load_s, 2),
        "prompt_tokens": first.prompt_tokens,
        "prefill_tok_s": round(first.prompt_tokens / first.timings.first_token_s, 1),
        "decode_tok_s": round(decoded / (decode.timings.total_s - decode.timings.first_token_s), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def run_child(name: str, threads: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", name, "--threads", str(threads)]
    command += ["--prompt-tokens", str(args.prompt_tokens), "--new-tokens", str(args.new_tokens)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {name} at {threads} threads failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def quality(measured: list[dict]) -> str:
    """The measured rows, one per benchmark, as short text."""
    parts = []
    for row in measured:
        scores = ", ".join(
            f"{key} {row[key]}" for key in row if key.startswith(("pass@", "line F1", "exact"))
        )
        parts.append(f"{row['benchmark']} ({row.get('sampling', '')}): {scores}")
    return "; ".join(parts) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default=None, help="comma-separated registry names (default: all installed)"
    )
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--prompt-tokens", type=int, default=1000)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--no-drop-caches", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, int(args.threads), args.prompt_tokens, args.new_tokens)))
        return

    from model_runtime.registry import catalog as registry
    from model_runtime.registry.listing import human_bytes, human_count, rows

    listed = {row.name: row for row in rows(registry.load(), registry.measured())}
    names = args.models.split(",") if args.models else [n for n, row in listed.items() if row.installed]
    thread_counts = [int(t) for t in args.threads.split(",")]
    results = []
    for name in names:
        dropped = not args.no_drop_caches and drop_page_cache()
        cold = run_child(name, thread_counts[0], args)
        cached = run_child(name, thread_counts[0], args)
        others = [run_child(name, t, args) for t in thread_counts[1:]]
        results.append({"model": name, "cold_dropped": dropped, "runs": [cold, cached, *others]})
        print(f"  {name}: done", file=sys.stderr, flush=True)

    head = (
        "| model | parameters | on disk | weights | load cold / cached s | "
        + " | ".join(f"prefill / decode tok/s, {t} thr" for t in thread_counts)
        + " | peak RSS MB | measured quality |"
    )
    print("\n" + head + "\n|" + "---|" * (head.count("|") - 1))
    for result in results:
        row = listed[result["model"]]
        cold, cached, *others = result["runs"]
        speeds = [cached, *others]
        cold_text = f"{cold['load_s']}" + ("" if result["cold_dropped"] else " (first)")
        print(
            f"| {row.name} | {human_count(row.parameters)} | {human_bytes(row.bytes_on_disk)} | "
            f"{cached['quantization']} | {cold_text} / {cached['load_s']} | "
            + " | ".join(f"{run['prefill_tok_s']} / {run['decode_tok_s']}" for run in speeds)
            + f" | {max(run['peak_rss_mb'] for run in speeds)} | {quality(row.measured)} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
