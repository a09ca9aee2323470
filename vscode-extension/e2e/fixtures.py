"""Build the tiny test model, write the end-to-end workspace and the programs the test expects.

    python vscode-extension/e2e/fixtures.py WORKDIR

WORKDIR/model is the tiny model the language-server tests use (it continues DOC_BUFFER inside a documented function
with DOC_NEXT_LINES, and writes the known program step by step from its instruction); WORKDIR/workspace holds the
files the test opens, next to a small repository of documented functions for "Retrain on This Workspace";
WORKDIR/expected.json what they must become.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.clients.lsp_session import DOC_BUFFER, DOC_LINE, DOC_PROGRAM, DOC_TITLE, build_lsp_model
from tests.support.sample_repo import make_repo
from tests.support.tiny_model import KNOWN_INSTRUCTION, KNOWN_STATES


def main(workdir: Path) -> None:
    started = time.perf_counter()
    build_lsp_model(workdir / "model")
    print(f"tiny model built in {time.perf_counter() - started:.1f} s")
    workspace = workdir / "workspace"
    make_repo(workspace)
    (workspace / "sum_squares.py").write_text(DOC_BUFFER)
    (workspace / "generated.py").write_text("")
    expected = {
        "code_action_line": DOC_LINE + 1,  # 1-based, as Go to Line takes it
        "code_action_title": DOC_TITLE,
        "after_code_action": DOC_PROGRAM,
        "instruction": KNOWN_INSTRUCTION,
        "after_first_step": KNOWN_STATES[1],
        "steps": len(KNOWN_STATES) - 1,
    }
    (workdir / "expected.json").write_text(json.dumps(expected, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
