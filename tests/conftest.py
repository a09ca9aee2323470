"""Shared pytest fixtures: tiny real models built once per test session, and the slow-test switch."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    # Tests marked slow need the installed default model or take minutes; they run only when asked for.
    if os.environ.get("EDITSEQ_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow; set EDITSEQ_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny Llama trained (in seconds) to reproduce the known LintSeq sequence of tests.support.tiny_model."""
    from tests.support import tiny_model

    return tiny_model.build(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def bad_model_dir(tmp_path_factory):
    """A tiny Llama trained to propose, for the known buffer, an edit that adds an undefined name."""
    from tests.support import tiny_model

    return tiny_model.build(tmp_path_factory.mktemp("bad-model"), tiny_model.bad_texts())


@pytest.fixture(scope="session")
def lsp_model_dir(tmp_path_factory):
    """The tiny model, also trained on the buffer the language-server tests open (tests/clients/lsp_session.py)."""
    from tests.clients.lsp_session import build_lsp_model

    return build_lsp_model(tmp_path_factory.mktemp("lsp-model"))


@pytest.fixture(scope="module")
def problems():
    """The 164 HumanEval problems, from the installed package."""
    from training.evaluation.humaneval import load_problems

    return load_problems()


@pytest.fixture(scope="module")
def by_id(problems):
    """The HumanEval problems by task id."""
    return {p.task_id: p for p in problems}
