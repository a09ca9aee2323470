"""Pyflakes in process: findings, the documented error/warning split, and which errors an edit introduced."""

from __future__ import annotations

import inspect
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyflakes import checker as pyflakes_checker
from pyflakes import messages as pyflakes_messages

from model_runtime import lint
from model_runtime.incremental_lint import IncrementalLint
from tests.support import stdlib_programs


def _pyflakes_message_classes() -> list[str]:
    return sorted(
        name
        for name, cls in inspect.getmembers(pyflakes_messages, inspect.isclass)
        if issubclass(cls, pyflakes_messages.Message) and cls is not pyflakes_messages.Message
    )


def test_every_pyflakes_message_class_is_classified():
    unclassified = [n for n in _pyflakes_message_classes() if n not in lint.ERROR_KINDS | lint.WARNING_KINDS]
    assert unclassified == []


def test_no_message_class_is_both_an_error_and_a_warning():
    assert lint.ERROR_KINDS.isdisjoint(lint.WARNING_KINDS)


def test_an_unknown_message_class_counts_as_an_error():
    assert lint.is_error_kind("SomethingPyflakesAddsLater")


@pytest.mark.parametrize(
    ("source", "kind", "is_error"),
    [
        ("def f(:\n    pass\n", "SyntaxError", True),
        ("print(undefined_name)\n", "UndefinedName", True),
        ("x = 1\ndef f():\n    print(x)\n    x = 2\n", "UndefinedLocal", True),
        ("__all__ = ['missing']\n", "UndefinedExport", True),
        ("return 1\n", "ReturnOutsideFunction", True),
        ("yield 1\n", "YieldOutsideFunction", True),
        ("continue\n", "ContinueOutsideLoop", True),  # ast.parse accepts these; the compiler would not
        ("break\n", "BreakOutsideLoop", True),
        ("def f(a, a):\n    pass\n", "DuplicateArgument", True),
        ("try:\n    pass\nexcept:\n    pass\nexcept ValueError:\n    pass\n", "DefaultExceptNotLast", True),
        ("a, *b, *c = range(10)\n", "TwoStarredExpressions", True),
        ("def f():\n    from os import *\n", "ImportStarNotPermitted", True),
        ("from __future__ import nonexistent\n", "FutureFeatureNotDefined", True),
        ("import os\nfrom __future__ import division\n", "LateFutureImport", True),
        ("raise NotImplemented\n", "RaiseNotImplemented", True),
        ("import sys\nprint >> sys.stderr, 'x'\n", "InvalidPrintSyntax", True),
        ("x: 'List[' = 1\n", "ForwardAnnotationSyntaxError", True),
        ("'{0} {}'.format(1, 2)\n", "StringDotFormatMixingAutomatic", True),
        ("'%s %s' % (1,)\n", "PercentFormatPositionalCountMismatch", True),
        ("import os\n", "UnusedImport", False),
        ("def f():\n    x = 1\n", "UnusedVariable", False),
        ("import os\nimport os\nos.sep\n", "RedefinedWhileUnused", False),
        ("x = 1\nx is 'a'\n", "IsLiteral", False),
        ("f'plain'\n", "FStringMissingPlaceholders", False),
        ("{'a': 1, 'a': 2}\n", "MultiValueRepeatedKeyLiteral", False),
        ("from os import *\n", "ImportStarUsed", False),
        ("'{}'.format(1, 2)\n", "StringDotFormatExtraPositionalArguments", False),
    ],
)
def test_each_kind_of_finding_is_an_error_or_a_warning_as_documented(source, kind, is_error):
    found = lint.check(source)
    assert kind in {f.kind for f in found}
    assert all(f.is_error == is_error for f in found if f.kind == kind)


def test_a_syntax_error_is_one_finding_with_its_position():
    (finding,) = lint.check("x = 1\ny = (\n")
    assert (finding.kind, finding.line, finding.is_error) == ("SyntaxError", 2, True)


def test_a_syntax_error_past_the_end_is_clamped_into_the_text():
    (finding,) = lint.check("if x:\n")
    assert finding.line <= 2


def test_nul_bytes_are_reported_not_raised():
    (finding,) = lint.check("x = 1\0\n")
    assert finding.kind == "SyntaxError"


def test_findings_are_sorted_by_position():
    found = lint.check("import os\nprint(b)\nprint(a)\n")
    assert found == sorted(found)
    assert [f.line for f in found] == [1, 2, 3]


def test_errors_leaves_out_warnings():
    assert lint.errors("import os\nprint(missing)\n") == [
        lint.LintError(2, 6, "UndefinedName", "undefined name 'missing'")
    ]


def test_a_finding_prints_like_a_compiler_message():
    (finding,) = lint.errors("print(missing)\n")
    assert str(finding) == "1:7: undefined name 'missing' [UndefinedName]"


def test_an_insertion_above_an_old_error_does_not_make_it_new():
    before = "def f():\n    return missing\n"
    after = "import os\n\n\ndef f():\n    os.sep\n    return missing\n"
    assert lint.new_errors(before, after) == []


def test_a_new_undefined_name_is_new_at_its_line():
    before = "def f():\n    return missing\n"
    after = "def f():\n    other()\n    return missing\n"
    assert lint.new_errors(before, after) == [lint.LintError(2, 4, "UndefinedName", "undefined name 'other'")]


def test_a_second_copy_of_an_old_error_is_new():
    before = "print(missing)\n"
    after = "print(missing)\nprint(missing)\n"
    assert [e.line for e in lint.new_errors(before, after)] == [2]


def test_a_syntax_error_that_moves_is_not_new():
    before = "x = (\n"
    after = "y = 1\nx = (\n"
    assert lint.new_errors(before, after) == []


def test_new_errors_takes_findings_as_well_as_text():
    before, after = "a = 1\n", "a = 1\nb = c\n"
    assert lint.new_errors(lint.errors(before), lint.errors(after)) == lint.new_errors(before, after)


def test_new_warnings_are_not_new_errors():
    assert lint.new_errors("x = 1\n", "import os\nx = 1\n") == []


def test_the_fast_checker_reports_exactly_what_stock_pyflakes_reports():
    # lint keeps pyflakes' builtins in a reusable table; the findings must not change, run after run.
    for path in stdlib_programs.stdlib_files()[:80]:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = lint.parse(text)
        except SyntaxError:
            continue
        stock = pyflakes_checker.Checker(tree, filename="<buffer>", withDoctest=False)
        expected = sorted(lint._from_message(m) for m in stock.messages)
        assert lint.check_tree(tree) == expected, path


def test_a_used_builtin_does_not_leak_into_the_next_check():
    # Reused builtin bindings carry a "used" mark; an import shadowing a builtin must still be reported unused.
    lint.check("open('x')\n")
    assert [f.kind for f in lint.check("from os import open\n")] == ["UnusedImport"]


def test_checks_in_parallel_threads_agree_with_a_single_thread():
    sources = [f"import os\ndef f{i}():\n    return open(x{i})\n" for i in range(20)]
    expected = [lint.check(s) for s in sources]
    results: dict[int, list] = {}

    def work(k: int) -> None:
        for _ in range(20):
            results[k] = [lint.check(s) for s in sources]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


_LINES = st.lists(st.sampled_from(["a", "b", "", "    return y", "x = 1"]), max_size=30)


@given(_LINES, _LINES)
def test_the_line_map_pairs_equal_lines_in_order(a, b):
    mapping = lint._line_map(_text(a), _text(b))
    pairs = sorted(mapping.items())
    assert all(b[new - 1] == a[old - 1] for new, old in pairs)
    assert [old for _, old in pairs] == sorted(old for _, old in pairs) and len(set(mapping.values())) == len(
        pairs
    )


@given(_LINES, st.data())
def test_after_an_insertion_every_old_line_maps_back_to_itself(a, data):
    at = data.draw(st.integers(0, len(a)))
    added = data.draw(_LINES)
    b = a[:at] + added + a[at:]
    mapping = lint._line_map(_text(a), _text(b))
    assert sorted(mapping.values()) == list(range(1, len(a) + 1))


def test_parse_or_none_keeps_the_last_trees_and_says_none_for_a_syntax_error():
    text = "def f(x):\n    return x\n"
    assert lint.parse_or_none(text) is lint.parse_or_none(text)  # parsed once
    assert lint.parse_or_none("def f(:\n") is None
    for i in range(3):
        lint.parse_or_none(f"x = {i}\n")
    assert lint.parse_or_none(text) is not None  # parsed again after falling out, still right


def test_code_pyflakes_cannot_check_is_an_error_not_a_crash():
    # Python parses a __future__ import inside a function but will not compile it; pyflakes asserts on it. A model
    # wrote one in a next-edit run (HumanEval harness commit of this repository's history).
    text = "import os\n\n\ndef f():\n    from __future__ import annotations\n    return os.sep\n"
    found = lint.errors(text)
    assert [(e.line, e.kind) for e in found] == [(5, "SyntaxError")]
    assert "cannot check" in found[0].message
    assert lint.new_errors("import os\n", text)  # so a suggestion that adds one is never offered
    incremental = IncrementalLint()
    incremental.check("import os\n")
    assert [(e.line, e.kind) for e in incremental.check(text)] == [(5, "SyntaxError")]
