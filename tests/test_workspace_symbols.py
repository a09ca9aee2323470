"""The workspace symbol index: a project's own names for the import quick fix, from disk and from a git commit."""

from __future__ import annotations

import os
import subprocess
import time

from model_runtime.auto_import import import_fix
from model_runtime.workspace_symbols import DirectoryIndex, index_sources, module_name
from training.evaluation.git_symbols import symbols_at

SOURCES = [
    ("app/__init__.py", ""),
    ("app/errors.py", "class RequestFailed(Exception):\n    pass\n\nLIMIT = 3\n_private = 1\n"),
    ("app/util.py", "def helper():\n    return 1\n\n\ndef shared():\n    pass\n"),
    ("app/other.py", "def shared():\n    pass\n"),
    ("scripts/run.py", "def script_only():\n    pass\n"),  # no __init__.py: not importable
    ("broken.py", "def f(:\n"),
]


def test_module_names_and_what_a_module_defines():
    assert module_name("app/errors.py") == "app.errors" and module_name("app/__init__.py") == "app"
    assert module_name("my-scripts/x.py") is None
    index = index_sources(SOURCES)
    assert index.import_line("RequestFailed", {"call"}) == "from app.errors import RequestFailed"
    assert index.import_line("LIMIT", {"name"}) == "from app.errors import LIMIT"
    assert index.import_line("util", {"attribute"}, {"helper"}) == "from app import util"


def test_nothing_ambiguous_private_unimportable_or_own_is_imported():
    index = index_sources(SOURCES)
    assert index.import_line("shared", {"call"}) is None  # two modules define it
    assert index.import_line("_private", {"name"}) is None
    assert index.import_line("script_only", {"call"}) is None
    assert index.import_line("RequestFailed", {"call"}, exclude="app.errors") is None
    assert index.import_line("util", {"attribute"}, {"missing"}) is None  # not a name util defines


def test_the_quick_fix_imports_a_project_name_among_its_peers():
    buffer = (
        "import os\n\nfrom app.util import helper\n\n\ndef f():\n    raise RequestFailed(os.sep, helper())\n"
    )
    fixed = import_fix(buffer, symbols=index_sources(SOURCES), module="app.main")
    assert fixed.split("\n")[2:4] == ["from app.errors import RequestFailed", "from app.util import helper"]


def test_a_directory_index_reads_again_only_what_changed(tmp_path):
    for path, text in SOURCES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "hidden.py").write_text("class Hidden:\n    pass\n")
    directory = DirectoryIndex(tmp_path, rescan_s=0)
    assert directory.current().import_line("Hidden", {"call"}) is None
    assert directory.module_of(tmp_path / "app" / "errors.py") == "app.errors"
    assert directory.module_of("/elsewhere/x.py") is None
    changed = tmp_path / "app" / "util.py"
    changed.write_text("def fresh():\n    pass\n")
    later = time.time() + 5  # a new modification time, however coarse the file system's clock
    os.utime(changed, (later, later))
    assert directory.current().import_line("fresh", {"call"}) == "from app.util import fresh"
    throttled = DirectoryIndex(tmp_path, rescan_s=60)
    assert throttled.current() is throttled.current()  # not walked again within rescan_s


def test_the_index_at_a_commit_reads_the_files_as_they_were(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    for path, text in SOURCES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    git("add", "-A")
    git("commit", "-qm", "first")
    (tmp_path / "app" / "errors.py").write_text("class Renamed(Exception):\n    pass\n")
    git("commit", "-qam", "second")
    assert (
        symbols_at(tmp_path, "HEAD^").import_line("RequestFailed", {"call"})
        == "from app.errors import RequestFailed"
    )
    head = symbols_at(tmp_path, "HEAD")
    assert head.import_line("RequestFailed", {"call"}) is None
    assert head.import_line("Renamed", {"call"}) == "from app.errors import Renamed"


def test_a_files_project_is_the_nearest_folder_with_git_or_pyproject(tmp_path):
    from model_runtime.workspace_symbols import project_root

    (tmp_path / "proj" / "pkg").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    assert project_root(tmp_path / "proj" / "pkg" / "mod.py") == (tmp_path / "proj").resolve()
