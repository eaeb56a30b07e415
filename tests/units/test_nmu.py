"""NMU (Madsen & Johansen 2020, arXiv:2001.05016)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import NMU

from .helpers import extrapolation_mse, linear_ramp, make, set_params, train, uniform_batch

F64 = torch.float64


@pytest.mark.parametrize(
    "W,x,y",
    [
        ([[1.0, 1.0]], [3.0, 4.0], 12.0),
        ([[1.0, 0.0]], [3.0, 4.0], 3.0),
        ([[0.5, 0.5]], [3.0, 4.0], 5.0),
        ([[1.0, 1.0]], [-2.0, 3.0], -6.0),
        ([[1.0, 1.0]], [0.0, 3.0], 0.0),
    ],
)
def test_hand_set_weights_select_and_multiply(W, x, y):
    unit = set_params(NMU(2, 1, dtype=F64), W=W)
    assert unit(torch.tensor([x], dtype=F64)).item() == y


def test_regularizer_example():
    unit = set_params(NMU(2, 1, dtype=F64), W=[[0.2, 0.9]])
    assert unit.regularizers()["sparsity"].item() == pytest.approx(0.15, abs=1e-12)


def test_clip_mode_uses_raw_weight_then_projects():
    unit = set_params(NMU(1, 1), W=[[1.5]])
    assert unit(torch.tensor([[3.0]])).item() == pytest.approx(1.5 * 3 + 1 - 1.5)
    unit.project_()
    assert unit.W.item() == 1.0


def test_regularized_mode():
    unit = set_params(NMU(2, 1, oob_mode="regularized", dtype=F64), W=[[1.5, -0.5]])
    assert unit(torch.tensor([[3.0, 4.0]], dtype=F64)).item() == 3.0  # W clamped to [1, 0]
    assert unit.regularizers()["oob"].item() == pytest.approx(0.5, abs=1e-12)  # mean(0.5, 0.5)
    unit.project_()
    assert unit.W.tolist() == [[1.5, -0.5]]


def test_init_code_versus_paper():
    torch.manual_seed(0)
    code = NMU(100, 100).W
    assert 0.25 <= code.min() and code.max() <= 0.75
    assert code.var().item() == pytest.approx(1 / 48, rel=0.05)
    paper = NMU(100, 100, init="paper").W
    assert paper.mean().item() == pytest.approx(0.5, abs=0.02)
    assert paper.var().item() == pytest.approx(0.25, rel=0.05)
    assert paper.max() <= 0.5 + math.sqrt(3) / 2


@pytest.mark.slow
def test_nmu_learns_multiplication_with_negative_inputs():
    unit = make("nmu", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(
        unit, uniform_batch(-2, 2, 2, target, size=64), steps=300, lr=0.05,
        reg_weights=lambda t: {"sparsity": 10 * linear_ramp(t, 100, 200)},
    )
    torch.testing.assert_close(unit.W.detach(), torch.ones(1, 2), atol=1e-4, rtol=0)
    x = 12 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1)) - 6
    assert extrapolation_mse(unit, x, target(x)) < 1e-8


@pytest.mark.parametrize("inputs", [2, 5, 12])
def test_product_traced_for_compile_matches_eager_with_zero_factors(inputs):
    # Under torch.compile small products are unrolled into multiplications (their backward fuses);
    # values and gradients must equal prod's, also where a factor is exactly zero (x = 0, W = 1),
    # which is where prod's backward takes its zero-safe path.
    from nalm.units.nmu import nmu_product

    gen = torch.Generator().manual_seed(inputs)
    W = torch.rand(3, 2, inputs, generator=gen, dtype=torch.float64)
    W[0, 0, 0] = 1.0
    x = torch.randn(3, 4, inputs, generator=gen, dtype=torch.float64) * 2
    x[0, 1, 0] = 0.0
    x[1, 2, :2] = 0.0  # two zero factors in one product where W = 1
    W[1, :, :2] = 1.0

    def loss(fn, W, x):
        W = W.clone().requires_grad_()
        x = x.clone().requires_grad_()
        out = fn(x, W)
        (out * torch.arange(1.0, out.numel() + 1, dtype=out.dtype).view_as(out)).sum().backward()
        return out.detach(), W.grad, x.grad

    torch._dynamo.reset()
    compiled = torch.compile(nmu_product, backend="aot_eager", fullgraph=True)
    for got, want in zip(loss(compiled, W, x), loss(nmu_product, W, x)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    graphs = []

    def record(gm, example_inputs):
        graphs.append(str(gm.graph))
        return gm.forward

    torch._dynamo.reset()
    torch.compile(nmu_product, backend=record, fullgraph=True)(x, W)
    assert ("prod" in graphs[0]) == (inputs > 8)
    torch._dynamo.reset()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("inputs", [1, 2])
def test_eager_product_of_two_is_exact_and_independent_per_run(inputs, dtype):
    # Eager mode writes products over one or two inputs as multiplications. Gradients are then
    # exactly upstream · other factor (prod's backward divides the product by each factor unless
    # some factor ANYWHERE in the batch is zero), so a run's values and gradients do not depend,
    # even in the last bit, on whether another run has a zero factor.
    from nalm.units.nmu import nmu_product

    gen = torch.Generator().manual_seed(inputs)
    W = torch.rand(4, 1, inputs, generator=gen, dtype=dtype)
    x = torch.rand(4, 64, inputs, generator=gen, dtype=dtype) * 3 - 1
    upstream = torch.randn(4, 64, 1, generator=gen, dtype=dtype)

    def value_and_grads(x, W):
        Wg, xg = W.clone().requires_grad_(), x.clone().requires_grad_()
        out = nmu_product(xg, Wg)
        out.backward(upstream)
        return out.detach(), Wg.grad, xg.grad

    out, W_grad, x_grad = value_and_grads(x, W)
    factors = x.unsqueeze(-2) * W.unsqueeze(-3) + (1 - W.unsqueeze(-3))  # [4, 64, 1, I]
    other = factors.flip(-1) if inputs == 2 else torch.ones_like(factors)
    torch.testing.assert_close(out, factors.prod(-1), rtol=0, atol=0)
    grad_factors = upstream.unsqueeze(-1) * other
    torch.testing.assert_close(x_grad, (grad_factors * W.unsqueeze(-3)).sum(-2), rtol=0, atol=0)
    # agrees with prod to rounding
    Wp, xp = W.clone().requires_grad_(), x.clone().requires_grad_()
    Wb = Wp.unsqueeze(-3)
    (xp.unsqueeze(-2) * Wb + (1 - Wb)).prod(-1).backward(upstream)
    torch.testing.assert_close(W_grad, Wp.grad)
    torch.testing.assert_close(x_grad, xp.grad)
    # a zero factor in run 3 leaves runs 0-2 bit-identical
    x_zero, W_zero = x.clone(), W.clone()
    x_zero[3, 5, 0], W_zero[3, 0, 0] = 0.0, 1.0
    for a, b in zip(value_and_grads(x, W), value_and_grads(x_zero, W_zero)):
        assert torch.equal(a[:3], b[:3])
