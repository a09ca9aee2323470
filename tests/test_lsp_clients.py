"""Real editors nobody here wrote, against the real server and a tiny model: Neovim (headless) and Emacs eglot.

Each opens the known buffer, waits for the model, asks for code actions at the line where the tiny model's next
edit goes, applies the expected action through the editor's own code, and checks the buffer. CI installs
``neovim``, ``emacs-nox`` and ``elpa-eglot`` (Debian); on a machine without them the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.lsp_session import DOC_BUFFER, DOC_LINE, DOC_PROGRAM, DOC_TITLE

CLIENTS = Path(__file__).parent / "clients"


def run_client(command: list[str], lsp_model_dir, tmp_path) -> subprocess.CompletedProcess:
    source = tmp_path / "example.py"
    source.write_text(DOC_BUFFER)
    expect = tmp_path / "expected.py"
    expect.write_text(DOC_PROGRAM)
    env = {
        **os.environ,
        "EDITSEQ_CMD": json.dumps([sys.executable, "-m", "lsp_server"]),
        "EDITSEQ_FILE": str(source),
        "EDITSEQ_MODEL": str(lsp_model_dir),
        "EDITSEQ_LINE": str(DOC_LINE),
        "EDITSEQ_TITLE": DOC_TITLE,
        "EDITSEQ_EXPECT": str(expect),
        "EDITSEQ_DATA_DIR": str(tmp_path / "data"),
        "HOME": str(tmp_path),  # keep the editors' state files out of the user's home
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)


@pytest.mark.skipif(
    shutil.which("nvim") is None,
    reason="Neovim is not installed (`make test` installs Debian's neovim where apt-get exists)",
)
def test_neovim_applies_the_expected_code_action(lsp_model_dir, tmp_path):
    script = CLIENTS / "nvim_code_action.lua"
    result = run_client(
        ["nvim", "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"], lsp_model_dir, tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "example.py").read_text() == DOC_BUFFER  # applied to the buffer, not saved


def emacs_has_eglot() -> bool:
    if shutil.which("emacs") is None:
        return False
    probe = (
        '(progn (dolist (d (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*")) (add-to-list (quote load-path) d))'
        " (package-initialize) (require 'eglot))"
    )
    return (
        subprocess.run(
            ["emacs", "--batch", "-Q", "--eval", probe], capture_output=True, timeout=60
        ).returncode
        == 0
    )


@pytest.mark.skipif(
    not emacs_has_eglot(),
    reason="Emacs with eglot is not installed (`make test` installs Debian's emacs-nox and elpa-eglot where apt-get exists)",
)
def test_emacs_eglot_applies_the_expected_code_action(lsp_model_dir, tmp_path):
    script = CLIENTS / "eglot_code_action.el"
    result = run_client(["emacs", "--batch", "-Q", "-l", str(script)], lsp_model_dir, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "applied" in result.stdout + result.stderr
