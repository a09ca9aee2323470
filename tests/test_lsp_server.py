"""The language server end to end over stdio, without a model: sync, diagnostics, settings, errors, memory."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lsp_server.diagnostics import lint_diagnostics
from tests.clients.lsp_session import (
    URI,
    change,
    code_action_params,
    diagnostics_for,
    eventually,
    execute,
    open_doc,
    start,
    stop,
    wait_for_state,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")

BROKEN_MODEL = "/nonexistent/editseq-model"


@pytest_asyncio.fixture
async def client():
    client = await start({"modelPath": BROKEN_MODEL})
    yield client
    await stop(client)


async def test_capabilities_include_the_editseq_kind_resolve_and_inline_completion(client: LanguageClient):
    caps = client.init_result.capabilities
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert list(caps.code_action_provider.code_action_kinds) == ["refactor.editseq"]
    assert caps.code_action_provider.resolve_provider is True
    assert caps.inline_completion_provider is not None
    assert {"editseq.acceptNextStep", "editseq.generate", "editseq.status"} <= set(
        caps.execute_command_provider.commands
    )


async def test_open_publishes_pyflakes_errors_and_warnings(client: LanguageClient):
    open_doc(client, "import os\n\nprint(undefined_name)\n")
    diagnostics = await diagnostics_for(client, 1)
    by_code = {d.code: d for d in diagnostics}
    assert by_code["UndefinedName"].severity == types.DiagnosticSeverity.Error
    assert by_code["UndefinedName"].range.start == types.Position(line=2, character=6)
    assert by_code["UnusedImport"].severity == types.DiagnosticSeverity.Warning


async def test_incremental_change_updates_diagnostics(client: LanguageClient):
    open_doc(client, "x = 1\nprint(y)\n")
    assert [d.code for d in await diagnostics_for(client, 1)] == ["UndefinedName"]
    change(client, 2, 0, 0, "y = 2\n")  # define y above its use
    assert list(await diagnostics_for(client, 2)) == []


async def test_diagnostics_after_edits_equal_a_full_check_of_the_edited_buffer(client: LanguageClient):
    # The worker keeps the document's last check and re-checks only what an edit touched: after edits that drop
    # the only use of an import, shadow it, add an error, and shift every line below, the published diagnostics
    # must still be exactly a full pyflakes run's on the client's copy of the buffer.
    functions = "".join(f"def f{i}(x):\n    y = x + {i}\n    return y\n\n\n" for i in range(40))
    open_doc(client, "import os\n\n\ndef uses():\n    return os.sep\n\n\n" + functions)
    assert list(await diagnostics_for(client, 1)) == []
    # uses() stops using os; f3 shadows it with a loop variable; f6 uses an undefined name; all lines move down.
    edits = [
        (4, "    return 1\n#"),
        (24, "    for os in range(2): pass\n"),
        (40, "    print(missing)\n"),
        (0, "\n"),
    ]
    for version, (line, text) in enumerate(edits, start=2):
        change(client, version, line, 0, text)
        diagnostics = await diagnostics_for(client, version)
        expected = lint_diagnostics(client.documents[URI][1])[1]
        assert [(d.code, d.range, d.message) for d in diagnostics] == [
            (d.code, d.range, d.message) for d in expected
        ]
    assert [(d.code, d.range.start.line) for d in diagnostics] == [
        ("UnusedImport", 1),
        ("ImportShadowedByLoopVar", 25),
        ("UndefinedName", 41),
    ]
    assert diagnostics[1].message == "import 'os' from line 2 shadowed by loop variable"


async def test_a_buffer_that_does_not_parse_gets_one_syntax_error(client: LanguageClient):
    open_doc(client, "def f(:\n    pass\n")
    diagnostics = await diagnostics_for(client, 1)
    assert [d.code for d in diagnostics] == ["SyntaxError"]
    assert diagnostics[0].severity == types.DiagnosticSeverity.Error


async def test_a_change_storm_ends_with_diagnostics_for_the_last_version(client: LanguageClient):
    open_doc(client, "")
    for version in range(2, 202):
        change(client, version, version - 2, 0, f"v{version} = 1\n")
    change(client, 202, 200, 0, "print(missing)\n")
    diagnostics = await diagnostics_for(client, 202)
    assert [(d.code, d.range.start.line) for d in diagnostics] == [("UndefinedName", 200)]


async def test_model_load_failure_is_shown_once_and_diagnostics_keep_working(client: LanguageClient):
    open_doc(client, "print(1)\n")
    await diagnostics_for(client, 1)
    status = await wait_for_state(client, "error")
    assert BROKEN_MODEL in status["error"]
    actions = await client.text_document_code_action_async(code_action_params(0))
    assert list(actions) == []
    change(client, 2, 1, 0, "print(nope)\n")
    assert [d.code for d in await diagnostics_for(client, 2)] == ["UndefinedName"]
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and "could not load" in errors[0].message


async def test_model_commands_fail_with_a_clear_message_when_there_is_no_model(client: LanguageClient):
    open_doc(client, "print(1)\n")
    await wait_for_state(client, "error")
    with pytest.raises(JsonRpcException, match="no model"):
        await execute(client, "editseq.generate", {"uri": URI, "instruction": "write a function"})


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "needs uri"),
        ([{"uri": 3}], "uri must be a str"),
        ([{"uri": URI}, {"uri": URI}], "one object argument"),
        ([["not", "an", "object"]], "one object argument"),
    ],
)
async def test_bad_command_arguments_are_invalid_params_not_a_crash(
    client: LanguageClient, arguments, message
):
    with pytest.raises(JsonRpcException, match=message):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="editseq.acceptNextStep", arguments=arguments)
        )
    assert (await execute(client, "editseq.status"))["state"] in {"idle", "loading", "error"}


async def test_commands_on_a_document_that_is_not_open_say_so(client: LanguageClient):
    with pytest.raises(JsonRpcException, match="is not open"):
        await execute(client, "editseq.reject", {"uri": "file:///never/opened.py"})


async def test_accepting_steps_without_pending_ones_explains(client: LanguageClient):
    open_doc(client, "x = 1\n")
    reason = "no pending steps; run editseq.generate or accept a planned suggestion first"
    for command in ("editseq.acceptNextStep", "editseq.acceptAll"):
        assert await execute(client, command, {"uri": URI}) == {"applied": False, "reason": reason}


async def test_bad_settings_are_reported_and_the_rest_apply(client: LanguageClient):
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"editseq": {"k": "many", "idleMs": 50}})
    )

    def warned() -> bool:
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        return any("editseq.k" in w for w in warnings)

    await eventually(warned, timeout=30, what="a warning naming editseq.k")


async def test_odd_documents_never_crash_the_server(client: LanguageClient):
    open_doc(client, "\x00\ufeffdef \u00e9():\n\tpass\r\n" + "x = (" * 200, uri="file:///tmp/odd.py")
    open_doc(client, "", uri="file:///tmp/empty.py")
    open_doc(client, "a = 1\n" * 50_000, uri="file:///tmp/huge.py")
    await asyncio.sleep(0.5)
    status = await execute(client, "editseq.status")
    assert status["state"] in {"loading", "error"}


async def test_rss_grows_less_than_10_percent_over_10000_changes(client: LanguageClient):
    open_doc(client, "x = 1\n")
    await diagnostics_for(client, 1)
    process = psutil.Process(client._server.pid)

    async def storm(first: int, n: int, timeout: float) -> float:
        started = time.perf_counter()
        for version in range(first, first + n):
            change(client, version, 0, 0, "#")
            if version % 500 == 0:
                await asyncio.sleep(0)  # let the client's writer drain
        await diagnostics_for(client, first + n - 1, timeout=timeout)
        return time.perf_counter() - started

    # Warm up caches and allocator pools before measuring. This test is about memory, not speed: the big storm
    # may take as long as the warm-up's pace allows on a loaded machine (CI shares its cores), with a wide margin.
    warm_up = await storm(2, 2_000, timeout=300)
    before = process.memory_info().rss
    await storm(2_002, 10_000, timeout=max(120.0, 20 * warm_up))
    after = process.memory_info().rss
    assert after < before * 1.10, f"RSS grew from {before / 2**20:.1f} to {after / 2**20:.1f} MiB"


async def test_notifications_leave_no_futures_behind_in_the_protocol():
    """pygls 2 keeps a Future per notification in ``_request_futures``; EditSeq's protocol drops each when done."""
    from lsp_server.server import EditSeqServer

    class Sink:
        def write(self, data: bytes) -> None:
            pass

    ls = EditSeqServer()
    ls.protocol.set_writer(Sink())

    def send(message: dict) -> None:
        ls.protocol.handle_message(ls.protocol.structure_message({"jsonrpc": "2.0", **message}))

    options = {"editseq": {"modelPath": "/nonexistent", "prefetch": False, "logging": False}}
    send({"id": 1, "method": "initialize", "params": {"capabilities": {}, "initializationOptions": options}})
    send({"method": "initialized", "params": {}})
    doc = {"uri": URI, "languageId": "python", "version": 1, "text": "x = 1\n"}
    send({"method": "textDocument/didOpen", "params": {"textDocument": doc}})
    for version in range(2, 1002):
        at = {"line": 0, "character": 0}
        change = {"range": {"start": at, "end": at}, "text": "#"}
        send(
            {
                "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": URI, "version": version}, "contentChanges": [change]},
            }
        )
    await eventually(
        lambda: ls.workspace.get_text_document(URI).source == "#" * 1000 + "x = 1\n",
        timeout=30,
        what="every change",
    )
    await eventually(
        lambda: len(ls.protocol._request_futures) < 5, timeout=30, what="the futures to be dropped"
    )


async def test_the_server_also_listens_on_tcp():
    import socket
    import sys

    from pygls.lsp.client import LanguageClient as PlainClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lsp_server", "--tcp", f"127.0.0.1:{port}"
    )
    try:
        client = PlainClient("tcp-test", "0")
        deadline = (
            time.perf_counter() + 60
        )  # the server needs a moment to import and bind (more on a busy machine)
        while True:
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                if time.perf_counter() > deadline:
                    raise
                await asyncio.sleep(0.05)
        result = await client.initialize_async(
            types.InitializeParams(capabilities=types.ClientCapabilities())
        )
        assert result.server_info.name == "editseq"
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
