"""Units as recurrent cells: hand-set cells compute running sums and products exactly, gradients are
right, the contract is delegated, and stacked runs equal runs one by one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

import nalm
from nalm.training import ModelSpec, stack_modules, unstack_module
from nalm.units.recurrent import RecurrentCell, RecurrentNetwork

LENGTH = 1_000


def test_hand_set_nau_cell_computes_two_running_sums_exactly_for_1000_steps() -> None:
    # Inputs are multiples of 1/16 in [-8, 8]: every partial sum is a dyadic rational far inside
    # float64's 53 bits, so the cell must match exact rational arithmetic bit for bit.
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 129, size=(4, LENGTH, 3)) / 16.0  # [B, T, I]
    unit = nalm.create("nau", 3 + 2, 2, dtype=torch.float64)
    with torch.no_grad():
        # h_t = (h1 + x0 + x1, h2 + x1 + x2): input columns first, then the state (the code's order)
        unit.W.copy_(torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0, 1.0]]))
    cell = RecurrentCell(unit)
    states = cell(torch.from_numpy(x), return_sequence=True)  # [B, T, 2]
    last = cell(torch.from_numpy(x))
    assert states.shape == (4, LENGTH, 2) and torch.equal(states[:, -1], last)
    for b in range(4):
        a_sum = b_sum = Fraction(0)
        for t in range(LENGTH):
            a_sum += Fraction(x[b, t, 0]) + Fraction(x[b, t, 1])
            b_sum += Fraction(x[b, t, 1]) + Fraction(x[b, t, 2])
            assert Fraction(states[b, t, 0].item()) == a_sum
            assert Fraction(states[b, t, 1].item()) == b_sum


def test_hand_set_nmu_cell_computes_a_running_product_exactly_for_1000_steps() -> None:
    # x0 is ±2^k with k in {-1, 0, 1}: every partial product is a signed power of two (exact in
    # float64; the exponent's walk stays far from the range's ends); x1 is a distractor with weight 0.
    rng = np.random.default_rng(1)
    exponents = rng.integers(-1, 2, size=(3, LENGTH))
    signs = rng.choice([-1.0, 1.0], size=(3, LENGTH))
    x = np.stack([signs * np.exp2(exponents), rng.uniform(-5, 5, size=(3, LENGTH))], axis=-1)
    unit = nalm.create("nmu", 2 + 1, 1, dtype=torch.float64)
    with torch.no_grad():
        unit.W.copy_(torch.tensor([[1.0, 0.0, 1.0]]))  # h_t = x0_t · h_{t-1}
    cell = RecurrentCell(unit)
    h0 = torch.ones(3, 1, dtype=torch.float64)
    states = cell(torch.from_numpy(x), h0, return_sequence=True)[..., 0]
    for b in range(3):
        product = Fraction(1)
        for t in range(LENGTH):
            product *= Fraction(x[b, t, 0])
            assert Fraction(states[b, t].item()) == product


def test_hand_set_network_computes_the_recurrent_task_target() -> None:
    """NAU cell accumulating a and b, NMU head multiplying them: the task's own target for a seed."""
    from nalm.tasks.recurrent import RecurrentArithmeticTask

    task = RecurrentArithmeticTask("mul", eval_samples=200)
    spec = ModelSpec(("nau", "nmu"), 10, 1, recurrent=True)
    net = spec.build(0, dtype=torch.float64)
    (a0, a1), (b0, b1) = task.subsets(3)
    W = torch.zeros(2, 12, dtype=torch.float64)
    W[0, a0:a1] = 1
    W[1, b0:b1] = 1
    W[0, 10] = W[1, 11] = 1  # the state carried over
    with torch.no_grad():
        net.cell.unit.W.copy_(W)
        net.head[0].W.fill_(1.0)
    for split in ("interpolation", "extrapolation", "range_extrapolation"):
        x, y = task.evaluation_set(split, [3], dtype=torch.float64)
        torch.testing.assert_close(net(x[0]), y[0], rtol=1e-13, atol=0)


def test_cell_delegates_the_unit_contract() -> None:
    unit = nalm.create("nmu", 4, 2)
    cell = RecurrentCell(unit)
    assert cell.input_features == 2 and cell.state_features == 2
    assert set(cell.regularizers()) == set(unit.regularizers())
    torch.testing.assert_close(cell.regularizers()["sparsity"], unit.regularizers()["sparsity"])
    with torch.no_grad():
        unit.W.fill_(3.0)
    cell.project_()
    assert float(unit.W.detach().max()) == 1.0  # the NMU's clamp to [0, 1]
    assert set(cell.effective_weights()) == {"0.W"}


def test_cell_refuses_a_unit_without_room_for_an_input() -> None:
    with pytest.raises(ValueError, match="input_features"):
        RecurrentCell(nalm.create("nau", 2, 2))
    with pytest.raises(ValueError, match="out_features"):
        RecurrentCell(nalm.create("nau", 5, 2), state_features=3)


@pytest.mark.parametrize("units", [("nau", "nmu"), ("nalu", "nalu"), ("nac", "nac_mul")])
def test_gradients_through_a_short_sequence_are_right(units: tuple[str, ...]) -> None:
    spec = ModelSpec(units, 3, 1, recurrent=True)
    net = spec.build(5, dtype=torch.float64)
    names = [n for n, _ in net.named_parameters()]
    x = (torch.rand(4, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 1.0)
    x.requires_grad_(True)
    params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    with torch.no_grad():  # a start away from the NMU's clamp edges and the NALU's log(0)
        for p in params:
            p.mul_(0.5).add_(0.1)

    def f(inputs: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(net, dict(zip(names, values)), (inputs,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-7)


def test_stacked_recurrent_networks_equal_each_network() -> None:
    spec = ModelSpec(("nau", "nmu"), 10, 1, recurrent=True)
    nets = [spec.build(s, dtype=torch.float64) for s in (1, 2, 3)]
    with torch.no_grad():
        for i, net in enumerate(nets):
            net.zero_state.fill_(0.25 * i)  # a learned initial state, different per run
    stacked = stack_modules(nets)
    x = torch.rand(3, 6, 7, 10, dtype=torch.float64)
    shared = x[:1]
    for i, net in enumerate(nets):
        torch.testing.assert_close(stacked(x)[i], net(x[i]), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(stacked(shared)[i], net(shared[0]), rtol=1e-12, atol=1e-14)
        seq = stacked(x, return_sequence=True)[i]
        torch.testing.assert_close(seq, net(x[i], return_sequence=True), rtol=1e-12, atol=1e-14)
        single = unstack_module(stacked, i, spec.build(0, dtype=torch.float64))
        assert torch.equal(single.zero_state, net.zero_state)


def test_recurrent_spec_shapes_and_seeding() -> None:
    spec = ModelSpec(("nau", "nmu"), 10, 1, recurrent=True)
    assert spec.sizes == [12, 2, 1]
    assert spec.describe() == "recurrent nau(10+2→2) over time → nmu(2→1)"
    net = spec.build(7)
    assert isinstance(net, RecurrentNetwork) and net.in_features == 10 and net.out_features == 1
    assert spec.parameter_values() == sum(p.numel() for p in net.parameters())
    assert torch.equal(net.zero_state, torch.zeros(2))  # stable-nalu: zeros_(zero_state)
    # seeded as the reference: manual_seed, build (one draw per layer), reset once more
    torch.manual_seed(7)
    cell, head = nalm.create("nau", 12, 2), nalm.create("nmu", 2, 1)
    cell.reset_parameters()
    head.reset_parameters()
    assert torch.equal(net.cell.unit.W, cell.W) and torch.equal(net.head[0].W, head.W)
    alone = ModelSpec(("nau",), 3, 1, recurrent=True)
    assert alone.sizes == [4, 1] and alone.build(0)(torch.rand(2, 5, 3)).shape == (2, 1)


def test_a_fixed_initial_state_of_one_starts_a_running_product() -> None:
    unit = nalm.create("nmu", 1 + 1, 1, dtype=torch.float64)
    with torch.no_grad():
        unit.W.fill_(1.0)
    net = RecurrentNetwork(RecurrentCell(unit), learn_initial_state=False, initial_state=1.0)
    assert not net.zero_state.requires_grad and float(net.zero_state) == 1.0
    x = torch.tensor([[[2.0], [3.0], [0.5]]], dtype=torch.float64)
    assert net(x, return_sequence=True)[0, :, 0].tolist() == [2.0, 6.0, 3.0]
    stacked = stack_modules([net, net])
    assert not stacked.zero_state.requires_grad  # stays fixed when runs are stacked
