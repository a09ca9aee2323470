"""The language server's pure parts: settings, command arguments, edits, inline items, diagnostics, history, log."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from lsp_server import commands
from lsp_server.__main__ import parse_address
from lsp_server.diagnostics import lint_diagnostics
from lsp_server.documents import DocumentState, PendingSequence
from lsp_server.inline import best_inline, inline_item
from lsp_server.settings import Settings, as_client_dict, from_environment, merge_settings, model_source
from lsp_server.suggestion_log import SuggestionLog
from lsp_server.text_edits import apply_text_edits, preview_title, text_edits, workspace_edit

# --------------------------------------------------------------------------------------------------- settings


def test_settings_take_camel_case_keys_from_the_editseq_section():
    settings, problems = merge_settings(Settings(), {"editseq": {"k": 5, "idleMs": 120, "prefetch": False}})
    assert (settings.k, settings.idle_ms, settings.prefetch) == (5, 120, False)
    assert problems == []


def test_a_bad_setting_keeps_the_old_value_and_is_reported():
    settings, problems = merge_settings(Settings(k=4), {"k": "many", "temperature": 0.2, "topP": 7})
    assert settings.k == 4 and settings.temperature == 0.2 and settings.top_p == Settings().top_p
    assert len(problems) == 2 and "editseq.k" in problems[0] and "editseq.topP" in problems[1]


def test_unknown_keys_and_nulls_are_ignored():
    settings, problems = merge_settings(Settings(), {"pythonPath": "/usr/bin/python3", "k": None})
    assert settings == Settings() and problems == []


def test_whole_floats_count_as_ints_but_bools_do_not():
    assert merge_settings(Settings(), {"k": 2.0})[0].k == 2
    assert merge_settings(Settings(), {"k": True})[1]


def test_an_unknown_device_is_refused():
    settings, problems = merge_settings(Settings(), {"device": "tpu"})
    assert settings.device == "auto" and "device" in problems[0]


def test_quantize_takes_auto_none_or_int8_and_refuses_anything_else():
    assert Settings().quantize == "auto"
    assert merge_settings(Settings(), {"quantize": "int8"}) == (Settings(quantize="int8"), [])
    assert (
        merge_settings(Settings(), {"device": "cuda:1"})[0].device == "cuda:1"
    )  # a device may name its index
    settings, problems = merge_settings(Settings(), {"quantize": "int8:1"})
    assert settings.quantize == "auto"
    assert problems == ["editseq.quantize: must be one of auto, none, int8; keeping 'auto'"]
    assert merge_settings(Settings(quantize="int8"), {"quantize": 8})[0].quantize == "int8"


def test_strategy_takes_default_or_a_runtime_strategy_and_refuses_anything_else():
    assert Settings().strategy == "default"
    assert merge_settings(Settings(), {"strategy": "rewrite"}) == (Settings(strategy="rewrite"), [])
    settings, problems = merge_settings(Settings(strategy="fim"), {"strategy": "diff"})
    assert settings.strategy == "fim"
    assert problems == [
        "editseq.strategy: must be one of default, lintseq, fim, rewrite, continue; keeping 'fim'"
    ]


def test_an_empty_choice_is_the_default_choice():
    settings = Settings(strategy="fim", quantize="int8", device="cpu")
    assert merge_settings(settings, {"strategy": "", "quantize": " ", "device": ""}) == (Settings(), [])


def test_the_environment_gives_the_model_path_and_leaves_quantization_to_the_loader():
    environ = {"EDITSEQ_MODEL_PATH": "/models/m", "EDITSEQ_QUANTIZE": "int8", "HOME": "/root"}
    assert from_environment(environ) == (Settings(model_path="/models/m"), [])
    assert from_environment({"EDITSEQ_MODEL_PATH": ""}) == (Settings(), [])


@pytest.mark.parametrize("setting, passed", [("auto", None), ("none", "none"), ("int8", "int8")])
def test_quantize_auto_lets_the_loader_choose(monkeypatch, setting, passed):
    """``auto`` passes ``quantize=None`` down: ``load_model`` then reads ``$EDITSEQ_QUANTIZE``, else the registry
    entry's ``cpu_quantize``; an explicit choice is passed as it is."""
    from lsp_server.model_host import load_for
    from model_runtime import default_model, loading

    calls = []
    monkeypatch.setattr(loading, "load_model", lambda spec, **kw: calls.append((spec, kw["quantize"])))
    monkeypatch.setattr(default_model, "load_default", lambda **kw: calls.append(("default", kw["quantize"])))
    load_for(Settings(model_path="/models/m", quantize=setting))
    load_for(Settings(quantize=setting))
    assert calls == [("/models/m", passed), ("default", passed)]


def test_only_what_the_model_is_loaded_from_reloads_it():
    assert model_source(Settings()) != model_source(Settings(quantize="int8"))
    assert model_source(Settings()) != model_source(Settings(device="cpu"))
    assert model_source(Settings()) == model_source(Settings(k=9, temperature=0.0))


def test_settings_round_trip_through_their_client_names():
    assert merge_settings(Settings(), as_client_dict(Settings(k=7, logging=False)))[0] == Settings(
        k=7, logging=False
    )


# ---------------------------------------------------------------------------------------- command arguments


def test_command_arguments_are_one_object():
    args = commands.parse_args("c", [{"uri": "file:///a.py", "instruction": "do it", "k": 2}], need=("uri",))
    assert (args.uri, args.instruction, args.k) == ("file:///a.py", "do it", 2)


def test_a_bare_string_argument_is_the_uri():
    assert commands.parse_args("c", ["file:///a.py"], need=("uri",)).uri == "file:///a.py"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "needs uri"),
        ([{"uri": 1}], "must be a str"),
        ([{"uri": "u", "k": 99}], "between 1 and 16"),
        ([1, 2], "one"),
    ],
)
def test_unusable_command_arguments_raise_a_clear_error(arguments, message):
    with pytest.raises(commands.CommandArgumentError, match=message):
        commands.parse_args("c", arguments, need=("uri",))


def test_tcp_address_parses_host_and_port():
    assert parse_address("0.0.0.0:2087") == ("0.0.0.0", 2087)
    assert parse_address(":2087") == ("127.0.0.1", 2087)


# ------------------------------------------------------------------------------------------------------ edits


def placement(line: int, *lines: str) -> SimpleNamespace:
    return SimpleNamespace(line=line, lines=tuple(lines))


def test_an_insertion_becomes_a_text_edit_at_column_zero():
    (edit,) = text_edits("a\nb\n", [placement(1, "x", "y")])
    assert edit.range.start == edit.range.end == types.Position(line=1, character=0)
    assert edit.new_text == "x\ny\n"


lines_strategy = st.lists(st.text(alphabet="ab =:()é😀", max_size=6), max_size=6)


@given(lines_strategy, st.booleans(), st.data())
def test_applying_the_text_edits_inserts_the_placements_lines(buffer_lines, trailing_newline, data):
    buffer = "\n".join(buffer_lines) + ("\n" if trailing_newline and buffer_lines else "")
    n = len(buffer.splitlines())
    places = sorted(
        data.draw(st.lists(st.integers(0, n), max_size=3, unique=True)),
    )
    placements = [placement(at, f"new{i}", f"  more{i}") for i, at in enumerate(places)]
    expected = list(buffer.splitlines())
    for p in reversed(placements):
        expected[p.line : p.line] = list(p.lines)
    assert apply_text_edits(buffer, text_edits(buffer, placements)).splitlines() == expected


def test_titles_preview_the_first_inserted_line():
    assert preview_title([placement(13, "    for item in items:", "        total += item")]) == (
        "Insert 2 lines at 14: for item in items:"
    )
    long = preview_title([placement(0, "x = " + "y" * 80)])
    assert long.startswith("Insert 1 line at 1: x = yyy") and long.endswith(" ...") and len(long) < 70


def test_a_workspace_edit_is_pinned_to_the_document_version():
    edit = workspace_edit("file:///a.py", 7, "a\n", [placement(0, "x")])
    (document_edit,) = edit.document_changes
    assert document_edit.text_document.version == 7 and document_edit.edits[0].new_text == "x\n"


# ------------------------------------------------------------------------------------------ inline completion


@given(lines_strategy.filter(bool), st.data())
def test_an_inline_item_rewrites_the_buffer_into_the_suggested_program(buffer_lines, data):
    buffer = "\n".join(buffer_lines) + "\n"
    lines = buffer.split("\n")
    row = data.draw(st.integers(0, len(buffer_lines) - 1))
    col = data.draw(st.integers(0, len(lines[row])))
    at = data.draw(st.integers(row, len(buffer_lines)))
    cursor = types.Position(line=row, character=len(lines[row][:col].encode("utf-16-le")) // 2)
    item = inline_item(buffer, cursor, [placement(at, "ghost()", "    more")])
    edit = types.TextEdit(range=item.range, new_text=item.insert_text)
    expected = buffer_lines[:at] + ["ghost()", "    more"] + buffer_lines[at:]
    assert apply_text_edits(buffer, [edit]).splitlines() == expected
    assert item.range.start.line == row and (item.range.start.character <= cursor.character or row < at)


def test_no_inline_item_for_an_insertion_above_the_cursor_line():
    assert inline_item("a\nb\nc\n", types.Position(line=2, character=0), [placement(1, "x")]) is None


# ------------------------------------------------------------------------------------------------ diagnostics


def test_diagnostic_columns_are_utf16_even_after_non_ascii_text():
    _, (diagnostic,) = lint_diagnostics("s = '😀é'; print(undefined)\n")
    assert diagnostic.code == "UndefinedName"
    prefix = "s = '😀é'; print("
    start = len(prefix.encode("utf-16-le")) // 2
    assert (diagnostic.range.start.character, diagnostic.range.end.character) == (
        start,
        start + len("undefined"),
    )


def test_a_syntax_error_is_one_error_diagnostic_inside_the_text():
    findings, (diagnostic,) = lint_diagnostics("def f(:\n")
    assert findings[0].kind == "SyntaxError" and diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.range.start.line == 0


# ---------------------------------------------------------------------------------------------- Diff History


def test_history_records_each_burst_of_typing_as_a_zero_context_diff():
    state = DocumentState(uri="u", version=1, snapshot="a = 1\n", history_length=2)
    assert state.record_history("a = 1\nb = 2\n") == "@@ -1,0 +2 @@\n+b = 2"
    assert state.record_history("a = 1\nb = 2\n") is None  # nothing changed since
    state.record_history("a = 1\nb = 2\nc = 3\n")
    state.record_history("a = 1\nb = 2\nc = 3\nd = 4\n")
    assert list(state.history) == ["@@ -2,0 +3 @@\n+c = 3", "@@ -3,0 +4 @@\n+d = 4"]


def test_shortening_the_history_drops_the_oldest_entries():
    state = DocumentState(uri="u", version=1, snapshot="", history_length=5)
    for i in range(4):
        state.record_history("".join(f"x{j} = {j}\n" for j in range(i + 1)))
    state.set_history_length(1)
    assert list(state.history) == ["@@ -3,0 +4 @@\n+x3 = 3"]


def test_a_pending_sequence_expects_the_state_after_the_previous_step():
    steps = [SimpleNamespace(program="a = 1"), SimpleNamespace(program="a = 1\nb = a")]
    pending = PendingSequence(start="", steps=steps, index=1)
    assert pending.matches("\na = 1\n\n") and not pending.matches("a = 2\n")
    pending.index = 2
    assert pending.done


def test_pending_steps_catch_up_with_steps_the_buffer_already_holds():
    steps = [SimpleNamespace(program=p) for p in ("a = 1", "a = 1\nb = a", "a = 1\nb = a\nc = b")]
    pending = PendingSequence(start="", steps=steps)
    assert pending.catch_up("") and pending.index == 0  # at the start: nothing to catch up
    assert pending.catch_up("a = 1\nb = a\n") and pending.index == 2  # two steps taken without the command
    assert pending.remaining == steps[2:]


def test_pending_steps_left_by_another_edit_stay_where_they_were():
    steps = [SimpleNamespace(program=p) for p in ("a = 1", "a = 1\nb = a")]
    pending = PendingSequence(start="", steps=steps, index=1)
    assert not pending.catch_up("a = 1\nz = 0\n") and pending.index == 1
    assert not pending.catch_up("")  # an earlier state is not the next one either


# ------------------------------------------------------------------------------------------- suggestion log


def test_the_suggestion_log_appends_one_json_object_per_event(tmp_path):
    log = SuggestionLog(tmp_path / "log" / "suggestions.jsonl")
    log.record(
        "shown", uri="file:///a.py", version=3, buffer="x = 1\n", suggestions=["@@ -1,0 +2 @@\n+y = x"]
    )
    log.record(
        "accepted", uri="file:///a.py", version=3, buffer="x = 1\n", suggestion="@@ -1,0 +2 @@\n+y = x"
    )
    rows = [json.loads(line) for line in (tmp_path / "log" / "suggestions.jsonl").read_text().splitlines()]
    assert [r["event"] for r in rows] == ["shown", "accepted"] and rows[0]["buffer"] == "x = 1\n"


def test_a_disabled_log_writes_nothing(tmp_path):
    SuggestionLog(tmp_path / "s.jsonl", enabled=False).record("shown", uri="u", version=1, buffer="")
    assert not (tmp_path / "s.jsonl").exists()


def test_an_unwritable_log_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    SuggestionLog(blocker / "s.jsonl").record("rejected", uri="u", version=1, buffer="")


# --------------------------------------------------------------------------------------------------- model host


def test_each_server_load_reads_the_model_again_and_keeps_only_that_one(tiny_model_dir, tmp_path):
    """A reload must see weights rewritten in place (retrain into the same directory), and a model switched
    away from must not stay in the runtime's cache."""
    import shutil

    from lsp_server.model_host import load_for
    from model_runtime import loading

    first = load_for(Settings(model_path=str(tiny_model_dir), device="cpu"))
    again = load_for(Settings(model_path=str(tiny_model_dir), device="cpu"))
    assert again is not first and list(loading._CACHE.values()) == [again]
    other_dir = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other_dir)
    other = load_for(Settings(model_path=str(other_dir), device="cpu"))
    assert list(loading._CACHE.values()) == [other]
    loading.clear_cache()


def test_suggestion_validation_keeps_one_linter_per_open_document_and_forgets_closed_ones():
    from lsp_server.diagnostics import KEPT_DOCUMENTS
    from lsp_server.server import EditSeqServer

    cache = EditSeqServer().suggestions
    first = cache.linter_for("file:///a.py")
    assert cache.linter_for("file:///a.py") is first
    cache.forget("file:///a.py", closed=True)
    assert cache.linter_for("file:///a.py") is not first
    linters = [cache.linter_for(f"file:///{i}.py") for i in range(KEPT_DOCUMENTS + 1)]
    assert cache.linter_for(f"file:///{KEPT_DOCUMENTS}.py") is linters[-1]
    assert cache.linter_for("file:///0.py") is not linters[0]  # the least recently used went first


def test_the_prompt_window_setting_takes_lines_and_refuses_negatives():
    settings, problems = merge_settings(Settings(), {"promptWindow": 200})
    assert settings.prompt_window == 200 and problems == []
    assert Settings().prompt_window == 80
    kept, problems = merge_settings(settings, {"promptWindow": -1})
    assert kept.prompt_window == 200 and "editseq.promptWindow" in problems[0]


def test_ghost_text_skips_a_suggestion_above_the_cursor_for_the_best_one_it_can_show():
    from types import SimpleNamespace

    buffer = "def f():\n    with contextlib.suppress(OSError):\n        pass\n"
    fix = SimpleNamespace(placements=[placement(0, "import contextlib")])
    edit = SimpleNamespace(placements=[placement(3, "    return 1")])
    cursor = types.Position(line=2, character=len("        pass"))
    suggestion, item = best_inline(buffer, cursor, [fix, edit])
    assert suggestion is edit and item.insert_text.endswith("    return 1")
    assert best_inline(buffer, cursor, [fix]) is None
