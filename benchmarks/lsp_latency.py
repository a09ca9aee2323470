"""Language-server latency and memory, measured from a real client process over stdio.

    python benchmarks/lsp_latency.py [--model DIR] [--runs 20] [--storm 10000]

Prints one table:
- code action round trip (request sent -> response read) when the suggestion was prefetched while idle, against
  the cold case (prefetch off: the request waits for generation);
- pyflakes diagnostics after a one-line change in a 5,000-line file: the clock starts when the client has written
  didChange and stops when it has read the publishDiagnostics for that version. The server's debounce (a constant,
  ``LINT_DEBOUNCE_S``, not a setting) only delays a change that arrives while a lint of the same document still
  runs; every change here waits for its diagnostics and a 50 ms pause, so none is debounced. Rows, in one run: the
  server as it is (incremental lint in its worker process), the same server checking every change in full (the
  "before"), the server with the model loaded and prefetching when each edit arrives (and, as its "before"s, the
  same server validating suggestions by full pyflakes runs, running each prompt in one forward pass instead of
  chunks, and parsing the whole buffer for each prompt instead of keeping each document's outline), and both lint
  paths alone
  in this process (no server, no IPC; benchmarks/diagnostics_breakdown.py splits them into stages);
- server RSS before and after a storm of didChange notifications, for EditSeq's protocol against stock pygls 2
  (whose ``_request_futures`` keeps one Future per notification: the baseline).

Without ``--model`` it builds the tiny test model (seconds); give the default model's directory for real figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.clients.lsp_session import DOC_BUFFER, DOC_LINE, build_lsp_model  # noqa: E402

# The baseline server: the same handlers on pygls' own protocol class (swapped in before it starts).
STOCK_SERVER = (
    "from pygls.protocol import LanguageServerProtocol\n"
    "from lsp_server.server import server\n"
    "server.protocol.__class__ = LanguageServerProtocol\n"
    "server.start_io()\n"
)
# The diagnostics baseline: the server as it was, linting every change in full (no document, so nothing is reused)
# with the plain lint function in its worker.
FULL_LINT_SERVER = (
    "import lsp_server.lint_scheduler as module\n"
    "from lsp_server.diagnostics import lint_diagnostics\n"
    "from lsp_server.server import server\n"
    "module.worker_lint = lint_diagnostics\n"
    "incremental = module.LintScheduler.lint\n"
    "async def full(self, text, uri):\n"
    "    return await incremental(self, text, None)\n"
    "module.LintScheduler.lint = full\n"
    "server.start_io()\n"
)

# The server validating suggestions with a full pyflakes run for the buffer and each candidate
# (BufferLint(incremental=False)): how suggestions were validated before, the baseline of the "while the model
# prefetches" row.
FULL_VALIDATION_SERVER = (
    "import model_runtime.suggestions as module\n"
    "from lsp_server.server import server\n"
    "original = module.BufferLint.__init__\n"
    "def full(self, buffer, **_):\n"
    "    original(self, buffer, incremental=False)\n"
    "module.BufferLint.__init__ = full\n"
    "server.start_io()\n"
)

# The server parsing the whole buffer for each suggestion's prompt (a fresh outline), as it did before each document
# kept an ``OutlineTracker``: the third baseline of the "prefetches" row.
FULL_PARSE_SERVER = (
    "import lsp_server.suggestion_cache as module\n"
    "from model_runtime.outline import outline_of\n"
    "from lsp_server.server import server\n"
    "module._focus = lambda tracker, text, line, window: (\n"
    "    (outline := outline_of(text)), module.prompt_focus(text, line, window, outline))\n"
    "server.start_io()\n"
)

# The server running each prompt in one forward pass: how prompts were prefilled before prefill.PREFILL_CHUNK,
# when a didChange had to wait for the whole prefill to stop. The second baseline of the "prefetches" row.
ONE_PASS_PREFILL_SERVER = (
    "import model_runtime.prefill as module\n"
    "from lsp_server.server import server\n"
    "module.PREFILL_CHUNK = 10**9\n"
    "server.start_io()\n"
)

# The server reading the tokenizer's whole vocabulary (``get_vocab()``, 0.3 s with the GIL held for Qwen2.5's 151,936
# tokens) to look for the FIM tokens on each suggestion of a model loaded by path, as before
# ``strategies.fim.missing_tokens``: the first baseline of the "prefetches" rows.
VOCAB_READ_SERVER = (
    "import model_runtime.strategies.fim as module\n"
    "from lsp_server.server import server\n"
    "def missing(tokenizer):\n"
    "    vocab = tokenizer.get_vocab()\n"
    "    return [token for token in (module.PREFIX, module.SUFFIX, module.MIDDLE) if token not in vocab]\n"
    "module.missing_tokens = missing\n"
    "server.start_io()\n"
)


class Client:
    """A pygls client driving one server process, timing what comes back."""

    def __init__(self) -> None:
        self.lsp = LanguageClient("editseq-bench", "0")
        self.diagnostics_at: dict[tuple[str, int], float] = {}
        self.versions: dict[str, int] = {}

        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics_at[(params.uri, params.version or 0)] = time.perf_counter()

        self.lsp.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(on_diagnostics)
        for method in ("editseq/status", types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE, types.PROGRESS):
            self.lsp.feature(method)(lambda params: None)

    async def start(self, settings: dict, *, server: str | None = None) -> None:
        args = ["-c", server] if server else ["-m", "lsp_server"]
        await self.lsp.start_io(sys.executable, *args, env={**os.environ, "PYTHONPATH": str(ROOT)})
        await self.lsp.initialize_async(
            types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options=settings)
        )
        self.lsp.initialized(types.InitializedParams())

    @property
    def pid(self) -> int:
        return self.lsp._server.pid

    async def stop(self) -> None:
        await self.lsp.shutdown_async(None)
        self.lsp.exit(None)
        await self.lsp.stop()

    async def status(self) -> dict:
        params = types.ExecuteCommandParams(command="editseq.status", arguments=[])
        return await self.lsp.workspace_execute_command_async(params)

    async def wait_status(self, predicate, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while not predicate(status := await self.status()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"server status stayed {status}")
            await asyncio.sleep(0.01)
        return status

    def open(self, uri: str, text: str) -> None:
        self.versions[uri] = 1
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        self.lsp.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))

    def insert(self, uri: str, line: int, text: str) -> int:
        self.versions[uri] += 1
        at = types.Position(line=line, character=0)
        self.lsp.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)
                ],
            )
        )
        return self.versions[uri]

    async def code_action_ms(self, uri: str, line: int) -> tuple[float, int]:
        at = types.Position(line=line, character=0)
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(at, at),
            context=types.CodeActionContext(diagnostics=[]),
        )
        started = time.perf_counter()
        actions = await self.lsp.text_document_code_action_async(params)
        return (time.perf_counter() - started) * 1000, len(actions or [])

    async def diagnostics_ms(self, uri: str, line: int, text: str) -> float:
        started = time.perf_counter()
        version = self.insert(uri, line, text)
        while (uri, version) not in self.diagnostics_at:
            await asyncio.sleep(0.0005)
        return (self.diagnostics_at[(uri, version)] - started) * 1000


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def code_actions(model: str, runs: int, *, prefetch: bool) -> tuple[list[float], int]:
    client = Client()
    await client.start(
        {"editseq": {"modelPath": model, "prefetch": prefetch, "idleMs": 50, "logging": False}}
    )
    try:
        times, offered = [], 0
        for run in range(runs):
            uri = f"file:///bench/{'warm' if prefetch else 'cold'}_{run}.py"
            before = (await client.status())["prefetches"]
            client.open(uri, DOC_BUFFER)
            await client.wait_status(lambda s: s["state"] in ("ready", "error"))
            if prefetch:
                client.insert(uri, DOC_LINE - 1, "")  # the user paused inside the function
                await client.wait_status(lambda s, before=before: s["prefetches"] > before)
            elapsed, n = await client.code_action_ms(uri, DOC_LINE)
            times.append(elapsed)
            offered += n
        return times, offered
    finally:
        await client.stop()


BIG_FILE = "".join(f"def f{i}(x):\n    y = x + {i}\n    return y\n\n" for i in range(1250))  # 5,000 lines


def edited(run: int) -> tuple[str, int, str]:
    """The big file after the edits of runs 0..``run``: its text, and where run ``run`` inserted which line."""
    lines = BIG_FILE.split("\n")
    for i in range(run + 1):
        lines.insert(2 + 4 * i, f"    z{i} = y")
    return "\n".join(lines), 2 + 4 * run, f"    z{run} = y\n"


def lint_in_process(runs: int, *, incremental: bool) -> list[float]:
    """Pyflakes plus the conversion to diagnostics, in this process, no server around it: the same edits."""
    from lsp_server.diagnostics import lint_diagnostics, worker_lint

    # The incremental path as the server's worker runs it; the baseline as the worker ran it before.
    lint, uri = (worker_lint, "file:///bench/in-process.py") if incremental else (lint_diagnostics, None)
    lint(BIG_FILE, uri)
    times = []
    for run in range(runs):
        text = edited(run)[0]
        started = time.perf_counter()
        lint(text, uri)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def diagnostics(runs: int, *, server: str | None = None, model: str | None = None) -> list[float]:
    """Diagnostics round trips for one-line edits of BIG_FILE. With ``model``, the model is loaded and prefetches
    after 20 ms of idleness, and each edit comes 100 ms after the last diagnostics: it lands while a suggestion is
    being generated on the server's model thread (the edit cancels it)."""
    client = Client()
    settings = {"modelPath": model or "/nonexistent", "prefetch": bool(model), "idleMs": 20, "logging": False}
    await client.start({"editseq": settings}, server=server)
    try:
        uri = "file:///bench/big.py"
        client.open(uri, BIG_FILE)
        while (uri, 1) not in client.diagnostics_at:
            await asyncio.sleep(0.001)
        # The server imports torch on its model thread while it loads the model, or fails to load /nonexistent
        # (seconds of CPU): measure after that, as a user editing for a while would see.
        await client.wait_status(lambda s: s["state"] in ("ready", "error"))
        times = []
        for run in range(runs):
            _, line, text = edited(run)
            times.append(await client.diagnostics_ms(uri, line, text))
            await asyncio.sleep(0.1 if model else 0.05)  # a user pauses between edits
        return times
    finally:
        await client.stop()


async def storm_rss(n: int, *, stock: bool) -> tuple[float, float]:
    client = Client()
    await client.start(
        {"editseq": {"modelPath": "/nonexistent", "prefetch": False, "logging": False}},
        server=STOCK_SERVER if stock else None,
    )
    try:
        uri = "file:///bench/storm.py"
        client.open(uri, "x = 1\n")
        process = psutil.Process(client.pid)

        async def burst(count: int) -> None:
            for i in range(count):
                version = client.insert(uri, 0, "#")
                if i % 500 == 0:
                    await asyncio.sleep(0)
            while (uri, version) not in client.diagnostics_at:
                await asyncio.sleep(0.01)

        await burst(1000)  # warm-up: allocator pools, caches
        before = process.memory_info().rss / 2**20
        await burst(n)
        return before, process.memory_info().rss / 2**20
    finally:
        await client.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: build the tiny test model)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--storm", type=int, default=10_000)
    parser.add_argument(
        "--only-prefetch-diagnostics",
        action="store_true",
        help="only the diagnostics rows with the model loaded (minutes with a real model, not a quarter hour)",
    )
    args = parser.parse_args()
    model = args.model or str(build_lsp_model(Path(tempfile.mkdtemp(prefix="editseq-bench-")) / "model"))
    rows = await (prefetch_rows if args.only_prefetch_diagnostics else all_rows)(model, args)
    print(
        f"\nmodel: {model}   runs: {args.runs}   cpu: {os.cpu_count()} cores   python {sys.version.split()[0]}\n"
    )
    print(f"{'measure':<44} {'p50 / before':>13} {'p95 / after':>13}  note")
    print("-" * 96)
    for label, first, second, note in rows:
        print(f"{label:<44} {first:>13.1f} {second:>13.1f}  {note}")


async def prefetch_rows(model: str, args) -> list[tuple]:
    """Diagnostics while the model prefetches, and the servers as they were before each fix."""
    rows = []
    for label, server in (
        ("  while the model prefetches (ms)", None),
        ("  before: the vocabulary read per suggestion (ms)", VOCAB_READ_SERVER),
        ("  before: validation by full pyflakes (ms)", FULL_VALIDATION_SERVER),
        ("  before: prompt run in one pass (ms)", ONE_PASS_PREFILL_SERVER),
        ("  before: a full parse per prompt (ms)", FULL_PARSE_SERVER),
    ):
        times = await diagnostics(args.runs, server=server, model=model)
        rows.append((label, *percentiles(times), "same edits, model loaded"))
    return rows


async def all_rows(model: str, args) -> list[tuple]:
    rows = []
    warm, offered_warm = await code_actions(model, args.runs, prefetch=True)
    cold, offered_cold = await code_actions(model, args.runs, prefetch=False)
    rows.append(
        (
            "code action, prefetched (ms)",
            *percentiles(warm),
            f"{offered_warm / args.runs:.1f} actions/request",
        )
    )
    rows.append(
        ("code action, cold (ms)", *percentiles(cold), f"{offered_cold / args.runs:.1f} actions/request")
    )
    rows.append(
        ("diagnostics, 5,000 lines (ms)", *percentiles(await diagnostics(args.runs)), "one-line change")
    )
    before = percentiles(await diagnostics(args.runs, server=FULL_LINT_SERVER))
    rows.append(("  before: the server linting in full (ms)", *before, "same edits"))
    rows += await prefetch_rows(model, args)
    alone = percentiles(lint_in_process(args.runs, incremental=True))
    rows.append(("  incremental lint alone, no server (ms)", *alone, "same edits"))
    baseline = percentiles(lint_in_process(args.runs, incremental=False))
    rows.append(("  baseline: full pyflakes alone, no server (ms)", *baseline, "same edits"))
    for label, stock in (("stock pygls 2", True), ("EditSeq protocol", False)):
        before, after = await storm_rss(args.storm, stock=stock)
        growth = f"{(after / before - 1) * 100:+.1f} %"
        rows.append((f"RSS {label}, {args.storm:,} didChange (MiB)", before, after, growth))
    return rows


if __name__ == "__main__":
    asyncio.run(main())
