"""Suggestions planned as several steps: the pure parts (``lsp_server.plans``), then the language server over stdio
with a scripted model that plans (tests/support/plan_server.py): the first step or all steps from a code action, the
later steps pending without asking the model, stepping, taking the rest at once, ghost text, and dropping the plan.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from lsp_server.plans import (
    adopted_plan,
    combined_placements,
    next_placements,
    pending_notice,
    plan_steps,
    remaining_placements,
)
from lsp_server.text_edits import apply_text_edits, text_edits
from tests.clients.lsp_session import (
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
from tests.support.plan_server import MODEL_MARKER, PLAN_STATES, plan_edits, plan_suggestion

on_server = pytest.mark.asyncio(loop_scope="module")

STEP_1_TITLE = "Step 1/3: Insert 2 lines at 4: for x in xs:"
ALL_TITLE = "All 3 steps: Insert 5 lines at 3 (+1 more places): if not xs:"
MODEL_TITLE = f"Insert 1 line at 1: {MODEL_MARKER}"

# ------------------------------------------------------------------------------------------------ pure parts


def test_a_plan_is_its_steps_each_placed_in_the_program_the_ones_before_it_left():
    steps = plan_steps(plan_suggestion())
    assert [step.edit_text for step in steps] == plan_edits()
    assert [step.program for step in steps] == list(PLAN_STATES[1:])
    assert all(step.steps == () for step in steps)  # each one step


def test_all_steps_become_one_insertion_into_the_buffer():
    buffer = PLAN_STATES[0]
    combined = combined_placements(buffer, plan_steps(plan_suggestion()))
    assert [(p.line, p.lines[0]) for p in combined] == [(2, "    if not xs:"), (3, "    for x in xs:")]
    assert apply_text_edits(buffer, text_edits(buffer, combined)) == PLAN_STATES[-1]


program_lines = st.lists(st.text(alphabet="ab(=", min_size=1, max_size=4), min_size=1, max_size=6)


@given(program_lines, st.data())
def test_the_combined_insertion_equals_the_steps_applied_one_after_another(lines, data):
    from model_runtime.suggestions import Placement, insert_placements

    buffer = "\n".join(lines) + "\n"
    program, steps = buffer, []
    for step in range(data.draw(st.integers(1, 4))):
        n = len(program.split("\n"))
        at = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3, unique=True))
        placements = tuple(Placement(line, (f"s{step}p{line}", "  x")) for line in sorted(at))
        steps.append(SimpleNamespace(placements=placements))
        program = insert_placements(program, placements)
    assert insert_placements(buffer, combined_placements(buffer, steps)) == program


def test_a_buffer_holding_the_first_steps_of_a_shown_plan_makes_the_rest_pending():
    plan = plan_suggestion()
    pending = adopted_plan(PLAN_STATES[0], [plan], PLAN_STATES[1])
    assert pending.index == 1 and [s.program for s in pending.remaining] == list(PLAN_STATES[2:])
    assert adopted_plan(PLAN_STATES[0], [plan], PLAN_STATES[2]).index == 2


@pytest.mark.parametrize("text", [PLAN_STATES[0], PLAN_STATES[3], PLAN_STATES[1] + "x = 1\n"])
def test_no_plan_is_adopted_before_its_first_step_after_its_last_or_off_it(text):
    assert adopted_plan(PLAN_STATES[0], [plan_suggestion()], text) is None


def test_a_suggestion_of_one_step_is_never_adopted():
    one_step = SimpleNamespace(steps=(), program=PLAN_STATES[1])
    assert adopted_plan(PLAN_STATES[0], [one_step], PLAN_STATES[1]) is None


def test_the_pending_notice_lists_the_steps_left_with_placements_in_the_buffer():
    pending = adopted_plan(PLAN_STATES[0], [plan_suggestion()], PLAN_STATES[1])
    notice = pending_notice("file:///m.py", pending, PLAN_STATES[1])
    assert (notice["next"], notice["total"]) == (1, 3)
    assert [s["title"] for s in notice["steps"]] == [
        "Insert 2 lines at 3: if not xs:",
        "Insert 1 line at 8: total = float(total)",
    ]
    assert notice["steps"][0]["placements"] == [
        {"line": 2, "lines": ["    if not xs:", "        return 0.0"]}
    ]
    assert json.loads(json.dumps(notice)) == notice
    assert pending_notice("file:///m.py", None, "")["steps"] == []


def test_the_next_step_lands_below_blank_lines_the_buffer_gained_on_top():
    pending = adopted_plan(PLAN_STATES[0], [plan_suggestion()], PLAN_STATES[1])
    text = "\n\n" + PLAN_STATES[1]
    assert [p.line for p in next_placements(pending, text)] == [4]
    assert (
        apply_text_edits(text, text_edits(text, remaining_placements(pending, text)))
        == "\n\n" + PLAN_STATES[3]
    )


# ------------------------------------------------------------------------------------------ over stdio


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(data_dir):
    env = {**os.environ, "EDITSEQ_DATA_DIR": str(data_dir)}
    client = await start({"idleMs": 50}, env=env, module="tests.support.plan_server")
    yield client
    await stop(client)


@pytest_asyncio.fixture(loop_scope="module")
async def uri(request, client):
    uri = f"file:///tmp/editseq_test/{request.node.name}.py"
    open_doc(client, PLAN_STATES[0], uri=uri)
    await wait_for_state(client, "ready")
    yield uri
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await execute(client, "editseq.status")


async def actions_at(client, uri: str, line: int = 3) -> list[types.CodeAction]:
    return list(await client.text_document_code_action_async(code_action_params(line, uri)) or [])


async def take(client, uri: str, title: str) -> None:
    """Choose the code action titled ``title`` and apply its (resolved) edit, as an editor does."""
    action = next(a for a in await actions_at(client, uri) if a.title == title)
    apply_workspace_edit(client, (await client.code_action_resolve_async(action)).edit)


def text_of(client, uri: str) -> str:
    return client.documents[uri][1]


def log_rows(data_dir, uri: str) -> list[dict]:
    path = data_dir / "suggestions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [r for r in rows if r["uri"] == uri]


@on_server
async def test_a_planned_suggestion_offers_its_first_step_and_all_its_steps(client, uri):
    assert [a.title for a in await actions_at(client, uri)] == [STEP_1_TITLE, ALL_TITLE]


@on_server
async def test_taking_all_steps_makes_the_final_program_and_leaves_nothing_pending(client, uri, data_dir):
    await take(client, uri, ALL_TITLE)
    assert text_of(client, uri) == PLAN_STATES[3]
    # Nothing is pending: the model is asked again.
    assert [a.title for a in await actions_at(client, uri, line=0)] == [MODEL_TITLE]
    rows = await eventually(lambda: [r for r in log_rows(data_dir, uri) if r["event"] == "accepted"])
    assert rows[0]["steps"] == plan_edits()


@on_server
async def test_after_the_first_step_the_next_ones_are_offered_without_asking_the_model(client, uri):
    await take(client, uri, STEP_1_TITLE)
    assert text_of(client, uri) == PLAN_STATES[1]
    assert [a.title for a in await actions_at(client, uri)] == [
        "EditSeq: accept step 2/3: Insert 2 lines at 3: if not xs:",
        "EditSeq: accept the remaining 2 steps: Insert 3 lines at 3 (+1 more places): if not xs:",
    ]
    notice = await eventually(lambda: [n for n in client.pending_notices if n.uri == uri])
    assert (notice[-1].next, notice[-1].total, len(notice[-1].steps)) == (1, 3, 2)


@on_server
async def test_accept_next_step_then_accept_all_finish_the_plan(client, uri, data_dir):
    await take(client, uri, STEP_1_TITLE)
    reply = await execute(client, "editseq.acceptNextStep", {"uri": uri})
    assert (reply["applied"], reply["step"], reply["done"]) == (True, 2, False)
    assert text_of(client, uri) == PLAN_STATES[2]
    reply = await execute(client, "editseq.acceptAll", {"uri": uri})
    assert (reply["applied"], reply["done"]) == (True, True)
    assert text_of(client, uri) == PLAN_STATES[3]
    assert (await execute(client, "editseq.acceptAll", {"uri": uri}))["applied"] is False
    assert [n.total for n in client.pending_notices if n.uri == uri][-1] == 0
    accepted = await eventually(
        lambda: [r["step"] for r in log_rows(data_dir, uri) if r["event"] == "accepted"] == [0, 1, 2] or None,
        what="one accepted row per step",
    )
    assert accepted


@on_server
async def test_ghost_text_shows_the_first_step_then_the_pending_next_one(client, uri):
    async def ghost(line: int) -> str:
        cursor = types.Position(line=line, character=0)
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=cursor,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        (item,) = result.items
        return apply_text_edits(text_of(client, uri), [types.TextEdit(item.range, item.insert_text)])

    first = await ghost(3)
    assert first == PLAN_STATES[1]
    change(client, 2, 3, 0, "    for x in xs:\n        total += x\n", uri=uri)  # the user takes it (Tab)
    assert await ghost(2) == PLAN_STATES[2]


@on_server
async def test_any_other_edit_drops_the_pending_steps_and_the_model_is_asked_again(client, uri):
    await take(client, uri, STEP_1_TITLE)
    await eventually(lambda: [n for n in client.pending_notices if n.uri == uri and n.total == 3])
    change(client, client.documents[uri][0] + 1, 0, 0, "# mine\n", uri=uri)
    assert MODEL_TITLE in [a.title for a in await actions_at(client, uri, line=0)]
    assert [n.total for n in client.pending_notices if n.uri == uri][-1] == 0
    assert (await execute(client, "editseq.acceptNextStep", {"uri": uri}))["applied"] is False
