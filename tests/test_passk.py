"""The unbiased pass@k estimator and its mean over problems, against exact values."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training.evaluation.passk import ks_up_to, mean_pass_at_k, pass_at_k


@st.composite
def n_c_k(draw):
    n = draw(st.integers(1, 200))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 0, 1, 0.0),
        (10, 10, 1, 1.0),
        (10, 3, 1, 0.3),
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (10, 1, 10, 1.0),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (200, 1, 1, 0.005),
    ],
)
def test_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@given(n_c_k())
def test_equals_one_minus_the_ratio_of_binomials(args):
    n, c, k = args
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-9)


@given(n_c_k())
def test_pass_at_1_is_the_fraction_correct(args):
    n, c, _ = args
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)


@given(n_c_k())
def test_grows_with_k_and_with_correct_samples(args):
    n, c, k = args
    if k < n:
        assert pass_at_k(n, c, k + 1) >= pass_at_k(n, c, k) - 1e-12
    if c < n:
        assert pass_at_k(n, c + 1, k) >= pass_at_k(n, c, k) - 1e-12


def test_large_n_neither_overflows_nor_loses_precision():
    assert pass_at_k(10_000, 1, 1) == pytest.approx(1e-4)
    assert 0.0 < pass_at_k(10_000, 1, 5_000) < 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(10, 11, 1), (10, -1, 1), (10, 3, 0), (10, 3, 11)])
def test_impossible_arguments_are_refused(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_the_mean_over_problems_covers_only_ks_every_problem_has_samples_for():
    result = mean_pass_at_k([(10, 10), (10, 0), (4, 2)], ks=(1, 5, 10))
    assert set(result) == {1}
    assert result[1] == pytest.approx((1.0 + 0.0 + 0.5) / 3)


def test_no_problems_means_no_numbers():
    assert mean_pass_at_k([]) == {}


def test_the_ks_of_a_curve_reach_n():
    assert ks_up_to(10) == [1, 2, 4, 5, 8, 10]
    assert ks_up_to(1) == [1]
