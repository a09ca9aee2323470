"""Nucleus sampling on a pre-truncated top-k gives exactly the full-vocabulary nucleus distribution."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from model_runtime.sampling import nucleus as _nucleus


def full_sort_nucleus(scaled: torch.Tensor, top_p: float) -> torch.Tensor:
    probs = torch.softmax(scaled, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    drop = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    vocab=st.integers(2, 300),
    rows=st.integers(1, 4),
    spread=st.floats(0.1, 8.0),
    top_p=st.floats(0.05, 0.999),
)
def test_nucleus_matches_the_full_sort_for_flat_and_peaked_distributions(seed, vocab, rows, spread, top_p):
    scaled = torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * spread
    torch.testing.assert_close(
        _nucleus(scaled, top_p), full_sort_nucleus(scaled, top_p), atol=1e-6, rtol=1e-5
    )


def test_sampling_draws_from_the_nucleus_with_its_probabilities():
    from model_runtime.sampling import sample as _sample

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05] + [0.0] * 96]) + 1e-12)
    generator = torch.Generator().manual_seed(0)
    draws = torch.cat([_sample(logits.expand(50, -1), 1.0, 0.9, generator)[0] for _ in range(200)])
    counts = torch.bincount(draws, minlength=100).float() / len(draws)
    # The nucleus at 0.9 is the first three tokens, renormalised: 0.5/0.95, 0.3/0.95, 0.15/0.95.
    assert set(draws.tolist()) <= {0, 1, 2}
    torch.testing.assert_close(counts[:3], torch.tensor([0.5, 0.3, 0.15]) / 0.95, atol=0.02, rtol=0)
