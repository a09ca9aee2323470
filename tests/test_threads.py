"""The torch thread policy shared by the language server and the CLI."""

from __future__ import annotations

import pytest

from model_runtime.threads import torch_thread_count


def test_by_default_torch_gets_half_the_cores():
    assert torch_thread_count(None, 8, {}) == 4


def test_a_single_core_machine_still_gets_one_thread():
    assert torch_thread_count(None, 1, {}) == 1


def test_omp_num_threads_set_by_the_user_is_left_alone():
    assert torch_thread_count(None, 8, {"OMP_NUM_THREADS": "3"}) is None


def test_editseq_threads_overrides_omp_num_threads():
    assert torch_thread_count(None, 8, {"EDITSEQ_THREADS": "2", "OMP_NUM_THREADS": "3"}) == 2


def test_an_explicit_request_wins_over_the_environment():
    assert torch_thread_count(6, 8, {"EDITSEQ_THREADS": "2"}) == 6


@pytest.mark.parametrize("requested, environ", [(0, {}), (None, {"EDITSEQ_THREADS": "many"})])
def test_a_bad_thread_count_is_a_clear_error(requested, environ):
    with pytest.raises(ValueError, match="thread count|whole number"):
        torch_thread_count(requested, 8, environ)
