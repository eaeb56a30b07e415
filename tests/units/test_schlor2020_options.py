"""Unit options the iNALU experiments need: iNALU with shared weights (``nalui1``) and the scripts'
initialisation for the NALU (``init="schlor2020"``)."""

from __future__ import annotations

import pytest
import torch

import nalm
from nalm.units.inalu import INALU


def test_shared_weights_inalu_is_the_independent_one_with_w_m_equal_to_w_a() -> None:
    shared = INALU(3, 2, init="original", shared_weights=True, dtype=torch.float64)
    assert [n for n, _ in shared.named_parameters()] == ["W_a_hat", "M_a_hat", "g"]
    independent = INALU(3, 2, init="original", dtype=torch.float64)
    with torch.no_grad():
        for name in ("W_a_hat", "W_m_hat"):
            getattr(independent, name).copy_(shared.W_a_hat)
        for name in ("M_a_hat", "M_m_hat"):
            getattr(independent, name).copy_(shared.M_a_hat)
        independent.g.copy_(shared.g)
    x = torch.tensor([[-2.0, 3.0, 0.5], [1.5, -0.25, 4.0]], dtype=torch.float64)
    torch.testing.assert_close(shared(x), independent(x), rtol=0, atol=0)
    # the penalty covers the unit's own three raw parameters
    reg = shared.regularizers()["inalu"]
    expected = sum(torch.relu(20 - P.abs()).mean() for P in (shared.W_a_hat, shared.M_a_hat, shared.g))
    torch.testing.assert_close(reg, expected)
    assert set(shared.effective_weights()) == {"W"}
    assert "shared_weights=True" in repr(shared)


def test_shared_weights_by_hand() -> None:
    """units.md §5 example 1 with one shared W: x = [−2, 3], W = [1, 1], γ = 0.5 → a = 1, m·msv = −6,
    y = 0.5 − 3 = −2.5."""
    unit = INALU(2, 1, shared_weights=True, dtype=torch.float64)
    with torch.no_grad():
        unit.W_a_hat.fill_(50.0)  # tanh → 1
        unit.M_a_hat.fill_(50.0)  # σ → 1
        unit.g.fill_(0.0)
    y = unit(torch.tensor([[-2.0, 3.0]], dtype=torch.float64))
    assert y.item() == pytest.approx(-2.5, abs=1e-12)


def test_independent_inalu_draws_as_before() -> None:
    """The default stays bit-identical: the same draws in the same order as before the option."""
    torch.manual_seed(3)
    unit = INALU(2, 1, init="original")
    torch.manual_seed(3)
    expected = [torch.empty(1, 2).normal_(1.0, 0.1) for _ in range(2)]
    expected += [torch.empty(1, 2).normal_(-1.0, 0.1) for _ in range(2)]
    expected.append(torch.empty(1).normal_(0.0, 0.1))
    got = [unit.W_a_hat, unit.W_m_hat, unit.M_a_hat, unit.M_m_hat, unit.g]
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_nalu_schlor2020_initialisation() -> None:
    big = nalm.create("nalu", 400, 100, init="schlor2020", dtype=torch.float64)
    for p, mean in ((big.W_hat, 1.0), (big.M_hat, -1.0), (big.G, 0.0)):
        assert abs(p.mean().item() - mean) < 0.002  # 40,000 draws: standard error 0.0005
        assert abs(p.std().item() - 0.1) < 0.002
    with pytest.raises(ValueError, match="schlor2020"):
        nalm.create("nalu", 2, 1, init="trask")
