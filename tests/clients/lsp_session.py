"""A pytest-lsp client session against ``python -m lsp_server``, with the small helpers every LSP test uses."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, make_test_lsp_client

from lsp_server.text_edits import apply_text_edits

URI = "file:///tmp/editseq_test/example.py"


def make_client() -> LanguageClient:
    """pytest-lsp's client, also remembering the version of each diagnostics publication and status notices."""
    client = make_test_lsp_client()
    client.diagnostic_versions = {}
    client.statuses = []
    features = client.protocol.fm.features
    record_diagnostics = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        record_diagnostics(params)
        client.diagnostic_versions[params.uri] = params.version if params.version is not None else -1

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_diagnostics
    client.feature("editseq/status")(lambda params: client.statuses.append(params))
    client.pending_notices = []  # editseq/pending: a document's pending steps, on every change
    client.feature("editseq/pending")(lambda params: client.pending_notices.append(params))
    client.documents = {}  # uri -> [version, text]: the client's copy, as an editor keeps it
    client.applied_edits = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied_edits.append(params)
        apply_workspace_edit(client, params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    return client


def apply_workspace_edit(client: LanguageClient, edit: types.WorkspaceEdit) -> None:
    """Apply a WorkspaceEdit to the client's copy and tell the server, as an editor does."""
    per_uri = {uri: edits for uri, edits in (edit.changes or {}).items()}
    for document_edit in edit.document_changes or []:
        per_uri.setdefault(document_edit.text_document.uri, []).extend(document_edit.edits)
    for uri, edits in per_uri.items():
        version, text = client.documents[uri]
        replace_all(client, uri, apply_text_edits(text, edits))


def replace_all(client: LanguageClient, uri: str, text: str) -> None:
    version = client.documents[uri][0] + 1
    client.documents[uri] = [version, text]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def start(
    settings: dict[str, Any], capabilities: str = "visual-studio-code", env=None, module: str = "lsp_server"
) -> LanguageClient:
    """A client talking to a fresh server (``python -m module``); ``settings`` is the ``editseq`` section it
    answers configuration with."""
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", module], client_factory=make_client, server_env=env
    )
    client = await config.start()
    client.set_configuration({"editseq": settings})
    client.init_result = await client.initialize_session(
        types.InitializeParams(capabilities=pytest_lsp.client_capabilities(capabilities))
    )
    return client


async def stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


def open_doc(client: LanguageClient, text: str, uri: str = URI, version: int = 1) -> None:
    client.documents[uri] = [version, text]
    item = types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))


def change(client: LanguageClient, version: int, line: int, char: int, text: str, uri: str = URI) -> None:
    """Insert ``text`` at (line, char) as an incremental change."""
    at = types.Position(line=line, character=char)
    insert = types.TextEdit(range=types.Range(at, at), new_text=text)
    client.documents[uri] = [version, apply_text_edits(client.documents[uri][1], [insert])]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)],
        )
    )


async def diagnostics_for(client: LanguageClient, version: int, uri: str = URI, timeout: float = 30.0):
    """The diagnostics published for ``version`` (or later) of ``uri``."""

    async def wait():
        while client.diagnostic_versions.get(uri, -2) < version:
            await asyncio.sleep(0.005)
        return client.diagnostics[uri]

    return await asyncio.wait_for(wait(), timeout)


async def execute(client: LanguageClient, command: str, argument: dict | None = None) -> Any:
    arguments = [argument] if argument is not None else []
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=arguments)
    )


async def wait_for_state(client: LanguageClient, state: str, timeout: float = 120.0) -> dict:
    """Poll ``editseq.status`` until the model is in ``state``; returns the status object."""

    async def wait():
        while (status := await execute(client, "editseq.status"))["state"] != state:
            await asyncio.sleep(0.05)
        return status

    return await asyncio.wait_for(wait(), timeout)


async def eventually(predicate, timeout: float = 60.0, what: str = "the condition"):
    """Poll ``predicate`` (sync or async) until it returns something truthy; returns that."""

    async def wait():
        while True:
            value = predicate()
            value = await value if asyncio.iscoroutine(value) else value
            if value:
                return value
            await asyncio.sleep(0.02)

    try:
        return await asyncio.wait_for(wait(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


def code_action_params(line: int, uri: str = URI, only: list[str] | None = None) -> types.CodeActionParams:
    at = types.Position(line=line, character=0)
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=at, end=at),
        context=types.CodeActionContext(diagnostics=[], only=only),
    )


# A buffer whose derived instruction (the function's header and docstring) the LSP test model is trained on, and
# the next edit it learns to propose for it: the realistic case of code actions inside a documented function.
DOC_BUFFER = (
    'def sum_squares(xs):\n    """Return the sum of the squares of xs."""\n    total = 0\n    return total\n'
)
DOC_LINE = 3
DOC_NEXT_LINES = ("    for x in xs:", "        total += x * x")
DOC_PROGRAM = DOC_BUFFER.replace("    return", "\n".join(DOC_NEXT_LINES) + "\n    return")
DOC_TITLE = "Insert 2 lines at 4: for x in xs:"


def build_lsp_model(out_dir):
    """The tiny test model, also trained to continue DOC_BUFFER (prompted as the server prompts) with DOC_NEXT_LINES."""
    from model_runtime.edits import diff_states, render_sequence
    from model_runtime.prompts import build_prompt, without_lines
    from tests.support import tiny_model

    # The server's prompt leaves the docstring (now the instruction) out of the buffer, as training data does.
    prompt = build_prompt(DOC_BUFFER, line=DOC_LINE)
    next_edit = diff_states(prompt.buffer, without_lines(DOC_PROGRAM, prompt.hidden))
    text = render_sequence(prompt.instruction, [*prompt.edits, next_edit])
    # Only the known sequence itself: the known texts' whole-buffer variant starts its first edit like this text
    # (three lines of the same function), and the server samples whole sequences at temperature 0.8.
    return tiny_model.build(out_dir, [tiny_model.known_texts()[0], text + tiny_model.EOS])
