"""Time to the first token while typing in two files: one-line edits, each followed by a request for a suggestion,
with the prompt KV cache kept per document, with one shared slot, and cleared before each request (cold).

    python benchmarks/typing_session.py [--model DIR] [--quantize int8] [--edits 10] [--threads 2]
                                        [--files model_runtime/incremental_lint.py,model_runtime/edits.py]

The session alternates between the files (an editor with two open documents): each request first adds one line to
its file, a comment below the previous edit in the function in the middle of the file, then asks for a 1-token
continuation of a rewrite-style chat prompt that shows the ``windows.window_span`` around the cursor (80 lines,
about 900 tokens). The prompt puts what changes with the cursor (its line number) after the code, so an edit keeps
the prompt's text before the edited line (the line numbers come after the code). One unmeasured request per file comes first. Columns: time to the first
token p50 / p95 over the requests, and the prompt tokens reused from the cache (mean).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"  # a registry name (`editseq model install`)
DEFAULT_FILES = "model_runtime/incremental_lint.py,model_runtime/edits.py"
MODES = ("cold", "one slot", "per document")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Document:
    """A file being edited: its lines, and where the next typed line goes (below the previous one)."""

    def __init__(self, path: Path) -> None:
        from model_runtime import lint
        from model_runtime.windows import top_level_spans

        self.path = path
        self.lines = path.read_text(encoding="utf-8").split("\n")
        units = top_level_spans(lint.parse_or_none("\n".join(self.lines)))
        middle = len(self.lines) // 2
        around = next((unit for unit in units if middle in unit), units[len(units) // 2])
        self.cursor = around.start + len(around) // 2
        self.typed = 0

    def type_line(self) -> None:
        line = self.lines[self.cursor]
        indent = line[: len(line) - len(line.lstrip())] or "    "
        self.typed += 1
        self.cursor += 1
        self.lines.insert(self.cursor, f"{indent}# step {self.typed}: check the result before returning it")

    def prompt(self, tokenizer) -> str:
        from model_runtime.windows import DEFAULT_WINDOW, window_span

        buffer = "\n".join(self.lines)
        shown = window_span(buffer, self.cursor, DEFAULT_WINDOW)
        code = "\n".join(self.lines[shown.start : shown.stop])
        user = (
            f"This is part of `{self.path.name}`:\n```python\n{code}\n```\n"
            f"(lines {shown.start + 1}-{shown.stop}; the cursor is on line {self.cursor + 1}). "
            "Rewrite the function around the cursor with the next edit."
        )
        messages = [{"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def session(loaded, paths: list[Path], edits: int, mode: str) -> tuple[list[float], list[int], list[int]]:
    """(time to first token, reused tokens, prompt tokens) of each measured request."""
    from model_runtime.generation import generate

    documents = [Document(path) for path in paths]
    loaded.prompt_cache = None
    first, reused, lengths = [], [], []
    for step in range(-len(documents), edits):
        document = documents[step % len(documents)]
        if step >= 0:
            document.type_line()
        if mode == "cold":
            loaded.prompt_cache = None
        key = str(document.path) if mode == "per document" else None
        result = generate(
            loaded, document.prompt(loaded.tokenizer), temperature=0, max_new_tokens=1, cache_key=key
        )
        if step >= 0:
            first.append(result.timings.first_token_s)
            reused.append(result.reused_prompt_tokens)
            lengths.append(result.prompt_tokens)
    return first, reused, lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--quantize", default="int8", choices=("none", "int8"))
    parser.add_argument("--edits", type=int, default=10, help="measured requests per mode, over all files")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--files", default=DEFAULT_FILES, help="comma-separated, relative to the repository")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()

    from model_runtime.loading import load_model
    from model_runtime.threads import limit_torch_threads

    threads = limit_torch_threads(args.threads)
    loaded = load_model(args.model, device="cpu", quantize=args.quantize)
    paths = [ROOT / name for name in args.files.split(",")]
    sizes = ", ".join(f"{p.name} ({len(p.read_text(encoding='utf-8').splitlines())} lines)" for p in paths)
    print(f"\n{Path(args.model).name} {args.quantize}, {threads} threads, {args.edits} edits over {sizes}\n")
    head = f"{'prompt cache':<14} {'first token p50 s':>17} {'p95 s':>7} {'reused tokens':>14} {'prompt tokens':>14}"
    rows = []
    for mode in args.modes.split(","):
        first, reused, lengths = session(loaded, paths, args.edits, mode)
        rows.append(
            f"{mode:<14} {percentile(first, 0.5):>17.2f} {percentile(first, 0.95):>7.2f} "
            f"{statistics.mean(reused):>14.0f} {statistics.mean(lengths):>14.0f}"
        )
        print(f"  {mode}: done", flush=True)
    print("\n" + head + "\n" + "-" * len(head))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
