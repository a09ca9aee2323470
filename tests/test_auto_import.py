"""Auto-import: the standard-library imports a completion's new lines need, added as one more insertion line."""

from __future__ import annotations

from model_runtime import lint
from model_runtime.auto_import import import_fix, import_for, with_imports
from model_runtime.edits import apply_edit
from model_runtime.strategies.base import plan


def _added(final: str, new: str) -> list[bool]:
    """Which lines of ``final`` are the lines of ``new`` (each found once)."""
    new_lines = set(new.split("\n"))
    return [line in new_lines for line in final.split("\n")]


def test_a_module_used_by_the_new_lines_is_imported_after_the_docstring():
    final = '"""Hashes."""\n\ndef md5(text):\n    return hashlib.md5(text.encode()).hexdigest()\n'
    text, added = with_imports(final, _added(final, "    return hashlib.md5(text.encode()).hexdigest()"))
    assert text.split("\n")[1] == "import hashlib" and added[1]
    assert not lint.errors(text) and len(added) == len(text.split("\n"))


def test_the_import_goes_in_order_among_the_standard_library_imports():
    head = "from __future__ import annotations\n\nimport os\nfrom typing import List\n\nimport requests\n\n"
    final = head + "def f(xs: List[int]):\n    return math.fsum(xs), os.sep, contextlib, requests\n"
    text, _ = with_imports(final, _added(final, "    return math.fsum(xs), os.sep, contextlib, requests"))
    assert text.split("\n")[2:5] == ["import math", "import os", "from typing import List"]
    bare = '"""Doc."""\nfrom __future__ import annotations\n\nimport requests\n\nx = sys.argv\n'
    text, _ = with_imports(bare, _added(bare, "x = sys.argv"))
    assert text.split("\n")[3:5] == ["import sys", "import requests"]


def test_imports_of_two_sections_each_go_to_their_own_place():
    from model_runtime.workspace_symbols import index_sources

    symbols = index_sources([("app/__init__.py", ""), ("app/x.py", "def helper():\n    pass\n")])
    final = "import os\n\nimport app.y\n\n\ndef f():\n    return os.sep, helper(), Iterator, app.y\n"
    text, _ = with_imports(final, [False] * 6 + [True, False], symbols=symbols, module="app.main")
    assert text.split("\n")[:5] == [
        "import os",
        "from collections.abc import Iterator",
        "",
        "import app.y",
        "from app.x import helper",
    ]


def test_a_quick_fix_imports_what_the_buffer_itself_lacks():
    buffer = "import os\n\n\ndef quiet():\n    with contextlib.suppress(OSError):\n        os.remove('x')\n"
    assert import_fix(buffer) == "import contextlib\n" + buffer
    assert import_fix("import os\n") is None and import_fix("def f(:\n") is None


def test_typing_and_well_known_names_are_imported_from_their_modules():
    final = "def f(xs) -> Tuple[int, int]:\n    seen = Counter(xs)\n    return seen, reduce(max, xs)\n"
    text, _ = with_imports(final, [True, True, True, False])
    assert text.split("\n")[:3] == [
        "from collections import Counter",
        "from functools import reduce",
        "from typing import Tuple",
    ]


def test_abstract_classes_come_from_collections_abc_unless_the_module_takes_them_from_typing():
    final = "def f(xs) -> Iterator[int]:\n    return iter(xs)\n"
    assert with_imports(final, [True, True, False])[0].startswith("from collections.abc import Iterator\n")
    typed = "from typing import List\n\ndef f(xs: List[int]) -> Iterator[int]:\n    return iter(xs)\n"
    assert "from typing import Iterator" in with_imports(typed, [False, False, True, True, False])[0]


def test_nothing_is_guessed():
    # an undefined variable named like a module, whose attribute the module lacks
    assert import_for("string", {"attribute"}, {"split"}) is None
    assert import_for("string", {"attribute"}, {"ascii_letters"}) == "import string"
    # a third-party module, a bare name, a well-known name not called
    assert import_for("numpy", {"attribute"}, {"array"}) is None
    assert import_for("result", {"name"}) is None
    assert import_for("deque", {"name"}) is None
    final = "def f(xs):\n    return np.array(xs), total\n"
    assert with_imports(final, [False, True, False]) == (final, [False, True, False])


def test_an_undefined_name_on_a_line_the_user_wrote_is_left_alone():
    final = "def f():\n    a = math.pi\n    return a\n"
    assert with_imports(final, [False, False, True, False])[0] == final
    assert with_imports("def f(:\n", [True, False])[0] == "def f(:\n"


def test_a_plan_whose_lines_need_an_import_starts_with_it_and_every_step_is_lint_clean():
    buffer = 'def root(x):\n    """Square root."""\n'
    final = buffer + "    return math.sqrt(x)\n"
    proposal = plan(buffer, final, _added(final, "    return math.sqrt(x)"), 0.0)
    assert proposal is not None
    states = [buffer]
    for edit in (proposal.text, *proposal.later):
        states.append(apply_edit(states[-1], edit))
    assert "import math" in states[1] and states[-1].startswith("import math\n")
    assert all(not lint.new_errors(buffer, state) for state in states[1:])
