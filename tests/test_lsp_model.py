"""The language server end to end over stdio with a tiny trained model: code actions, resolve, inline completion,
stepping through a generated sequence, prefetch, cancellation, settings and the suggestion log.

One server serves the module (starting one costs seconds of imports); each test works on its own document.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lsp_server.text_edits import apply_text_edits
from tests.clients.lsp_session import (
    DOC_BUFFER,
    DOC_LINE,
    DOC_NEXT_LINES,
    DOC_PROGRAM,
    DOC_TITLE,
    apply_workspace_edit,
    change,
    code_action_params,
    eventually,
    execute,
    open_doc,
    start,
    stop,
    wait_for_state,
)
from tests.support.tiny_model import KNOWN_INSTRUCTION, KNOWN_STATES

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = {"temperature": 0.0, "k": 2, "idleMs": 50, "maxNewTokens": 96}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(lsp_model_dir, data_dir):
    env = {**os.environ, "EDITSEQ_DATA_DIR": str(data_dir)}
    client = await start({"modelPath": str(lsp_model_dir), **SETTINGS}, env=env)
    yield client
    await stop(client)


@pytest_asyncio.fixture(loop_scope="module")
async def uri(request, client):
    """A document of this test's own, closed afterwards so that its background work stops with the test."""
    uri = f"file:///tmp/editseq_test/{request.node.name}.py"
    yield uri
    if uri in client.documents:
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        await execute(client, "editseq.status")  # a round trip: the close has been handled


async def ready_with(client: LanguageClient, uri: str, text: str) -> None:
    open_doc(client, text, uri=uri)
    await wait_for_state(client, "ready")


async def actions_at(
    client: LanguageClient, uri: str, line: int = DOC_LINE, only=None
) -> list[types.CodeAction]:
    return list(await client.text_document_code_action_async(code_action_params(line, uri, only)) or [])


async def expected_action(client: LanguageClient, uri: str) -> types.CodeAction:
    actions = await actions_at(client, uri)
    return next(a for a in actions if a.title == DOC_TITLE)


def log_rows(data_dir, uri: str) -> list[dict]:
    path = data_dir / "suggestions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [r for r in rows if r["uri"] == uri]


async def configure(client: LanguageClient, **settings) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"editseq": settings})
    )
    await execute(client, "editseq.status")  # a round trip: the notification has been handled


async def test_code_actions_offer_the_validated_next_edit_with_a_preview_title(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    action = await expected_action(client, uri)
    assert action.kind == "refactor.editseq" and action.edit is None  # this client resolves edits lazily
    assert action.data["uri"] == uri and action.data["index"] == 0


async def test_resolve_returns_the_edit_that_makes_the_known_program(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    resolved = await client.code_action_resolve_async(await expected_action(client, uri))
    (document_edit,) = resolved.edit.document_changes
    assert [e.new_text for e in document_edit.edits] == ["\n".join(DOC_NEXT_LINES) + "\n"]
    assert document_edit.edits[0].range.start == types.Position(line=DOC_LINE, character=0)
    apply_workspace_edit(client, resolved.edit)
    assert client.documents[uri][1] == DOC_PROGRAM


async def test_resolve_after_the_document_changed_is_content_modified(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    action = await expected_action(client, uri)
    change(client, 2, 0, 0, "# a comment\n", uri=uri)
    with pytest.raises(JsonRpcException, match="changed"):
        await client.code_action_resolve_async(action)


async def test_code_actions_filtered_by_another_kind_are_empty(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    assert await actions_at(client, uri, only=["quickfix"]) == []
    assert await actions_at(client, uri, only=["refactor"]) != []


async def test_a_buffer_that_does_not_parse_is_explained_not_guessed(client, uri):
    await ready_with(client, uri, "def f(:\n    pass\n")
    (action,) = await actions_at(client, uri, line=1)
    assert action.disabled is not None and "does not parse" in action.disabled.reason


async def test_inline_completion_shows_the_next_edit_as_ghost_text(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    cursor = types.Position(line=DOC_LINE - 1, character=len("    total = 0"))
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=cursor,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    (item,) = result.items
    assert item.insert_text == "\n" + "\n".join(DOC_NEXT_LINES)
    assert item.range.start == item.range.end == cursor


async def test_an_import_quick_fix_is_offered_first_as_a_code_action(client, uri):
    buffer = (
        DOC_BUFFER
        + "\n\ndef quiet(path):\n    with contextlib.suppress(OSError):\n        return open(path)\n"
    )
    await ready_with(client, uri, buffer)
    first, *_ = await actions_at(client, uri)
    assert "import contextlib" in first.title


async def test_generate_then_accept_next_step_walks_the_known_sequence(client, uri):
    await ready_with(client, uri, "")
    arguments = {"uri": uri, "instruction": KNOWN_INSTRUCTION, "k": 1}
    (candidate,) = await execute(client, "editseq.generate", arguments)
    assert candidate["program"].strip() == KNOWN_STATES[-1] and candidate["valid"] and candidate["pending"]
    states = []
    for _ in candidate["steps"]:
        reply = await execute(client, "editseq.acceptNextStep", {"uri": uri})
        assert reply["applied"], reply
        states.append(client.documents[uri][1].strip())
    assert reply["done"] and states == list(KNOWN_STATES[1:])
    assert (await execute(client, "editseq.acceptNextStep", {"uri": uri}))["applied"] is False


async def test_the_pending_step_is_offered_as_a_code_action(client, uri):
    await ready_with(client, uri, "")
    await execute(client, "editseq.generate", {"uri": uri, "instruction": KNOWN_INSTRUCTION, "k": 1})
    (action, *_) = await actions_at(client, uri, line=0)
    assert action.title == "EditSeq: accept step 1/3: Insert 2 lines at 1: def sum_squares(xs):"
    # lsprotocol's client-side converter reads any action carrying a command as a bare Command.
    assert "editseq.acceptNextStep" in str(action.command)


async def test_choose_makes_another_candidate_pending(client, uri):
    await ready_with(client, uri, "")
    await execute(client, "editseq.generate", {"uri": uri, "instruction": KNOWN_INSTRUCTION, "k": 1})
    assert await execute(client, "editseq.choose", {"uri": uri, "index": 0}) == {
        "index": 0,
        "steps": 3,
        "valid": True,
    }
    with pytest.raises(JsonRpcException, match="no candidate 5"):
        await execute(client, "editseq.choose", {"uri": uri, "index": 5})


async def test_reject_drops_the_pending_sequence_and_logs_it(client, uri, data_dir):
    await ready_with(client, uri, "")
    await execute(client, "editseq.generate", {"uri": uri, "instruction": KNOWN_INSTRUCTION, "k": 1})
    assert (await execute(client, "editseq.reject", {"uri": uri}))["rejected"] == 1
    assert (await execute(client, "editseq.acceptNextStep", {"uri": uri}))["applied"] is False
    assert await eventually(lambda: [r["event"] for r in log_rows(data_dir, uri)] == ["rejected"])


async def test_shown_suggestions_are_logged_with_the_buffer(client, uri, data_dir):
    await ready_with(client, uri, DOC_BUFFER)
    await expected_action(client, uri)
    rows = await eventually(lambda: log_rows(data_dir, uri), what="the log")
    shown = next(r for r in rows if r["event"] == "shown")
    assert shown["buffer"] == DOC_BUFFER and "for x in xs" in shown["suggestions"][0]


async def test_an_applied_suggestion_is_logged_as_accepted(client, uri, data_dir):
    await ready_with(client, uri, DOC_BUFFER)
    resolved = await client.code_action_resolve_async(await expected_action(client, uri))
    apply_workspace_edit(client, resolved.edit)
    # The server notices once typing pauses (idleMs 50).
    rows = await eventually(lambda: [r for r in log_rows(data_dir, uri) if r["event"] == "accepted"])
    (accepted,) = rows
    assert accepted["buffer"] == DOC_BUFFER and "for x in xs" in accepted["suggestion"]


async def test_a_code_action_after_idle_is_answered_from_the_prefetch_cache(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    before = await execute(client, "editseq.status")
    change(
        client, 2, DOC_LINE - 1, 0, "", uri=uri
    )  # the user "typed" in the function: the prefetch goes there

    async def prefetched():
        return (await execute(client, "editseq.status"))["prefetches"] > before["prefetches"]

    await eventually(prefetched, what="the prefetch after idleMs")
    hits = (await execute(client, "editseq.status"))["cache_hits"]
    started = time.perf_counter()
    await expected_action(client, uri)
    elapsed = time.perf_counter() - started
    status = await execute(client, "editseq.status")
    assert status["cache_hits"] == hits + 1, status
    assert elapsed < 0.5, f"a cached answer took {elapsed:.3f} s"


async def test_in_a_long_file_a_suggestion_is_reused_only_inside_its_own_window(client, uri):
    """Two undocumented functions far apart derive the same (empty) instruction, but the model sees a different
    window of the file for each: the second must be computed, not answered from the first's cache."""
    filler = "\n\n".join(f"def g{i}(x):\n    y = x + {i}\n    return y" for i in range(40))  # 159 lines
    await configure(client, prefetch=False)  # only the requests below touch the cache
    try:
        await ready_with(client, uri, filler + "\n")
        hits = (await execute(client, "editseq.status"))["cache_hits"]
        await actions_at(client, uri, line=1)  # in g0: computed
        await actions_at(client, uri, line=4 * 35 + 1)  # in g35: another window, computed afresh
        assert (await execute(client, "editseq.status"))["cache_hits"] == hits
        await actions_at(client, uri, line=4 * 35 + 2)  # g35 again: its own window, from the cache
        await actions_at(client, uri, line=2)  # g0 again
        assert (await execute(client, "editseq.status"))["cache_hits"] == hits + 2
    finally:
        await configure(client, prefetch=True)


async def test_status_reports_model_device_and_latencies(client, uri, lsp_model_dir):
    await ready_with(client, uri, DOC_BUFFER)
    await expected_action(client, uri)
    status = await execute(client, "editseq.status")
    assert status["state"] == "ready" and status["device"] == "cpu"
    assert str(lsp_model_dir) in status["model"] and status["latency_ms"]["suggest"] > 0
    pushed = [getattr(s, "state", None) for s in client.statuses]
    assert "loading" in pushed and pushed.index("loading") < pushed.index("ready")


async def test_loading_reports_work_done_progress(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    reports = [r for values in client.progress_reports.values() for r in values]
    assert reports[0].kind == "begin" and reports[0].title == "EditSeq: loading model"
    assert reports[-1].kind == "end" and reports[-1].message == "ready"


async def test_a_settings_change_takes_effect(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    await configure(client, maxNewTokens=5)
    try:
        # Five tokens cannot hold the edit: it is cut off, counted as malformed, and nothing is offered.
        assert [a for a in await actions_at(client, uri) if a.data] == []
    finally:
        await configure(client, **SETTINGS)
    await expected_action(client, uri)


async def test_greedy_first_answers_with_the_greedy_candidate_and_the_samples_join_it_after(client, uri):
    """k = 3 at temperature 5: the request is answered by the greedy pass alone (the known edit, first); the two
    sampled candidates come in a second pass that adds to the same list, the shown suggestion staying first. With
    greedyFirst off, all three are sampled at that temperature, and none of them is an edit that validates."""
    await configure(client, k=3, temperature=5.0, prefetch=False)
    try:
        widened = (await execute(client, "editseq.status"))["widened"]
        await ready_with(client, uri, DOC_BUFFER)
        action = await expected_action(client, uri)
        assert action.data["index"] == 0

        async def second_pass_done():
            return (await execute(client, "editseq.status"))["widened"] > widened

        await eventually(second_pass_done, what="the sampled candidates")
        actions = [a for a in await actions_at(client, uri) if a.data]
        assert actions[0].title == DOC_TITLE and actions[0].data["index"] == 0
        await configure(client, greedyFirst=False)  # all k sampled in one batch, as before
        assert [a for a in await actions_at(client, uri) if a.data] == []
        assert (await execute(client, "editseq.status"))["widened"] == widened + 1  # no second pass then
    finally:
        await configure(client, **SETTINGS, prefetch=True, greedyFirst=True)


async def test_the_strategy_setting_reaches_the_model_and_one_it_cannot_run_is_explained(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    await configure(client, strategy="fim")  # the tiny model has no fill-in-the-middle tokens
    try:
        (action,) = await actions_at(client, uri)
        assert action.disabled is not None and "FIM tokens" in action.disabled.reason
        assert "editseq.strategy: fim" in action.title
        await configure(client, strategy="lintseq")  # the tiny model's own, named
        await expected_action(client, uri)
    finally:
        await configure(client, strategy="default")


async def test_cancel_request_answers_cancelled_and_the_next_request_works(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    future = client.protocol.send_request(types.TEXT_DOCUMENT_CODE_ACTION, code_action_params(DOC_LINE, uri))
    msg_id = next(k for k, v in client.protocol._request_futures.items() if v is future)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    try:
        await asyncio.wrap_future(future)  # it may have finished before the cancel arrived: that is fine too
    except JsonRpcException as exc:
        assert "cancel" in str(exc).lower()
    assert (await execute(client, "editseq.cancel", {"uri": uri}))["cancelled"] >= 0
    await expected_action(client, uri)


async def test_cancelling_one_of_two_requests_for_the_same_line_leaves_the_other_its_answer(client, uri):
    # VS Code cancels its automatic code-action request when the user asks explicitly for the same line: the
    # explicit request joins the same computation and must still get the suggestions.
    await ready_with(client, uri, DOC_BUFFER)
    params = code_action_params(DOC_LINE, uri)
    first = client.protocol.send_request(types.TEXT_DOCUMENT_CODE_ACTION, params)
    second = client.protocol.send_request(types.TEXT_DOCUMENT_CODE_ACTION, params)
    msg_id = next(k for k, v in client.protocol._request_futures.items() if v is first)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with contextlib.suppress(JsonRpcException):
        await asyncio.wrap_future(first)
    actions = await asyncio.wrap_future(second)
    assert DOC_TITLE in [a.title for a in actions]


async def test_a_change_cancels_the_suggestion_being_computed_for_the_old_text(client, uri):
    await ready_with(client, uri, DOC_BUFFER)
    pending = asyncio.ensure_future(client.text_document_code_action_async(code_action_params(DOC_LINE, uri)))
    change(client, 2, 0, 0, "\n", uri=uri)
    try:
        await pending
    except JsonRpcException as exc:
        assert exc.code == -32801  # ContentModified: the client asks again for the new text
    assert [a.title for a in await actions_at(client, uri, line=DOC_LINE + 1)] == [
        DOC_TITLE.replace("at 4", "at 5")
    ]


async def test_changing_the_model_path_reloads_and_a_bad_one_degrades(lsp_model_dir, uri):
    client = await start({"modelPath": str(lsp_model_dir), **SETTINGS})
    try:
        await ready_with(client, uri, DOC_BUFFER)
        await configure(client, modelPath="/nonexistent/model")
        status = await wait_for_state(client, "error")
        assert "/nonexistent/model" in status["error"]
        assert await actions_at(client, uri) == []
        assert [m.type for m in client.messages] == [types.MessageType.Error]
    finally:
        await stop(client)


async def test_switching_to_int8_reloads_the_model_and_its_suggestions_are_validated(lsp_model_dir, uri):
    from model_runtime.lint import check

    client = await start({"modelPath": str(lsp_model_dir), **SETTINGS})
    try:
        await ready_with(client, uri, DOC_BUFFER)
        assert (await execute(client, "editseq.status"))["quantize"] == "none"
        loads = [getattr(s, "state", None) for s in client.statuses].count("loading")
        await configure(client, quantize="int8")
        status = await wait_for_state(client, "ready")
        assert status["quantize"] == "int8" and str(lsp_model_dir) in status["model"], status
        assert [getattr(s, "state", None) for s in client.statuses].count("loading") == loads + 1
        actions = [a for a in await actions_at(client, uri) if a.data]
        assert DOC_TITLE in [a.title for a in actions]
        for action in actions:
            resolved = await client.code_action_resolve_async(action)
            (document_edit,) = resolved.edit.document_changes
            assert check(apply_text_edits(DOC_BUFFER, document_edit.edits), errors_only=True) == []
        # A value the server does not know: a warning naming the choices; the int8 model stays, not reloaded.
        await configure(client, quantize="int4")
        assert "quantize: must be one of auto, none, int8" in client.messages[-1].message
        assert client.messages[-1].type == types.MessageType.Warning
        status = await execute(client, "editseq.status")
        assert (status["state"], status["quantize"]) == ("ready", "int8")
        assert [getattr(s, "state", None) for s in client.statuses].count("loading") == loads + 1
    finally:
        await stop(client)
