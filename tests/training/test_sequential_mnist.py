"""The sequential MNIST network (nalm.units.sequential_mnist, nalm.training.model.SequentialMnistSpec)
and its evaluation after training (nalm.training.sequential_mnist): exact hand-set accumulators, the
reference's wiring and seeding, R_z by hand, runs batched exactly as alone (float64), a short training
on the generated fixture that learns, the per-length MSEs and the reference-model thresholds."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from nalm.errors import ConfigError
from nalm.report.sequential_mnist import reference_thresholds, success_by_length
from nalm.tasks.mnist import SequentialMnistTask, write_digit_fixture
from nalm.training import OptimizerSpec, TrainRecipe, train
from nalm.training.model import SequentialMnistSpec, stack_modules
from nalm.training.schedules import Constant, LinearRamp
from nalm.training.sequential_mnist import mse_by_test_length, per_length_mse
from nalm.units._init import nau_uniform_radius
from nalm.units.nac import nac_weight


def _spec(unit: str, **network: object) -> SequentialMnistSpec:
    return SequentialMnistSpec((unit,), 784, 1, **network)  # type: ignore[arg-type]


def _prod_task(**kw: object) -> SequentialMnistTask:
    kw.setdefault("extrapolation_lengths", (1, 2, 5))
    return SequentialMnistTask("prod", length=2, source="fixture", **kw)  # type: ignore[arg-type]


# --- exact accumulators --------------------------------------------------------------------------


def test_a_hand_set_nau_cell_gives_the_running_sum_exactly_for_1000_steps() -> None:
    net = _spec("nau").build(0, dtype=torch.float64)
    with torch.no_grad():
        net.cell.unit.W.copy_(torch.tensor([[1.0, 1.0]]))
    digits = torch.tensor(np.random.RandomState(0).randint(0, 10, size=(3, 1000)), dtype=torch.float64)
    out = net.accumulate(digits)
    assert torch.equal(out, digits.cumsum(-1))  # integers below 2**53: every partial sum exact


def test_a_hand_set_nmu_cell_gives_the_running_product_exactly_for_1000_steps() -> None:
    net = _spec("nmu").build(0, dtype=torch.float64)
    with torch.no_grad():
        net.cell.unit.W.copy_(torch.tensor([[1.0, 1.0]]))
    assert float(net.initial_state) == 1.0  # the multiplicative cells start from 1
    # factors of ±2^k: every running product is a power of two, exact in float64 (|k| stays < 1000)
    rng = np.random.RandomState(1)
    values = rng.choice([0.5, 2.0, -1.0, 1.0, -2.0], size=(2, 1000))
    out = net.accumulate(torch.tensor(values)).detach().numpy()
    for row, got in zip(values, out):
        running, want = Fraction(1), []
        for v in row:
            running *= Fraction(v)
            want.append(float(running))
        assert got.tolist() == want


def test_the_solved_accumulator_is_the_reference_model_and_only_the_cnn_learns() -> None:
    for unit, op in (("nau", "sum"), ("nmu", "prod")):
        net = _spec(unit, accumulator="solved").build(3, dtype=torch.float64)
        assert not net.cell.unit.W.requires_grad and net.cell.unit.W.tolist() == [[1.0, 1.0]]
        images = torch.randn(4, 6, 1, 28, 28, dtype=torch.float64)
        values = net.digits(images)
        want = values.cumsum(-1) if op == "sum" else values.cumprod(-1)
        torch.testing.assert_close(net(images), want, rtol=1e-14, atol=0)
    with pytest.raises(ConfigError, match="exact NAU .* or NMU"):
        _spec("nac", accumulator="solved")


def test_nac_mul_as_the_cell_is_exp_of_a_nac_cell_in_log_space() -> None:
    """The reference's NAC•: exp(NAC(log|l|+ε, log|h|+ε)) with the NAC's own weight."""
    net = _spec("nac_mul").build(5, dtype=torch.float64)
    unit = net.cell.unit
    W = nac_weight(unit.W_hat, unit.M_hat)
    values = torch.rand(3, 7, dtype=torch.float64) * 9 + 0.5
    h = torch.ones(3, 1, dtype=torch.float64)  # the reference's h0 for nac_mul 'normal'
    want = []
    for t in range(7):
        x = torch.stack([values[:, t], h[:, 0]], -1)
        h = torch.exp(torch.log(x.abs() + 1e-7) @ W.T)
        want.append(h[:, 0])
    torch.testing.assert_close(net.accumulate(values), torch.stack(want, -1), rtol=1e-13, atol=0)


def test_the_initial_state_is_a_fixed_buffer_chosen_as_the_reference_does() -> None:
    states = {u: float(_spec(u).build(0).initial_state) for u in ("nau", "nac", "nalu", "nmu", "nac_mul",
                                                                   "nac_mul_sigma", "nac_mul_nmu")}
    # 1 where the reference's nac_mul is 'normal' or 'mnac'; the NALU starts at 0, also on products
    assert states == {"nau": 0.0, "nac": 0.0, "nalu": 0.0, "nmu": 1.0, "nac_mul": 1.0,
                      "nac_mul_sigma": 1.0, "nac_mul_nmu": 1.0}
    net = _spec("nau").build(0)
    assert "initial_state" in dict(net.named_buffers())
    assert "initial_state" not in dict(net.named_parameters())
    assert float(_spec("nau", initial_state=2.5).build(0).initial_state) == 2.5


def test_the_network_settings_are_fields_of_the_spec_not_options_of_the_cell() -> None:
    spec = _spec("nmu", z_regularizer=True)
    assert spec.options == () and spec.network() == {
        "accumulator": "trained", "initial_state": 1.0, "z_regularizer": True}
    # the default h0 is resolved when the spec is made: the same network is the same spec
    assert _spec("nmu") == _spec("nmu", initial_state=1) and _spec("nau") != _spec("nau", initial_state=1)
    assert SequentialMnistSpec(("nau",), 784, 1, **_spec("nau", accumulator="solved").network()).solved
    for bad, needle in [
        ({"accumulator": "exact"}, "accumulator: expected 'trained' or 'solved', got 'exact'"),
        ({"z_regularizer": 1}, "z_regularizer: expected true or false, got 1"),
        ({"initial_state": "1"}, "initial_state: expected a finite number, got '1'"),
        ({"initial_state": math.inf}, "initial_state: expected a finite number"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            _spec("nau", **bad)
    for name, value in (("accumulator", "solved"), ("z_regularizer", True), ("initial_state", 1.0)):
        with pytest.raises(ConfigError) as info:
            SequentialMnistSpec(("nmu",), 784, 1, options=({name: value},))
        assert str(info.value) == (f"options: {name!r} is a setting of the network, not an option of the cell "
                                   f"'nmu': network = {{ {name} = ... }} beside units")


def test_a_run_is_seeded_as_the_reference_script_seeds_it() -> None:
    """manual_seed; RegressionMnistNetwork's layers drawn when made; reset (CNN, cell) twice."""
    seed = 11
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 20, 5, 1), nn.Conv2d(20, 50, 5, 1), nn.Linear(800, 500), nn.Linear(500, 1)]
    W = torch.empty(1, 2)
    for _ in range(2):
        for layer in layers:
            layer.reset_parameters()
        r = nau_uniform_radius(2, 1)
        torch.nn.init.uniform_(W, -r, r)
    net = _spec("nau").build(seed)
    names = ("conv1", "conv2", "fc1", "fc2")
    for name, layer in zip(names, layers):
        assert torch.equal(getattr(net.cnn, f"{name}_weight"), layer.weight.detach())
        assert torch.equal(getattr(net.cnn, f"{name}_bias"), layer.bias.detach())
    assert torch.equal(net.cell.unit.W.detach(), W)


def test_r_z_is_the_reference_formula_on_the_cells_inputs() -> None:
    net = _spec("nau", z_regularizer=True).build(0, dtype=torch.float64)
    with torch.no_grad():
        net.cell.unit.W.copy_(torch.tensor([[0.5, -0.25]]))
    values = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)
    states = net.accumulate(values)
    inputs = []  # every [l_t, h_{t-1}] the cell saw, h_0 = 0
    for b in range(2):
        h = 0.0
        for t in range(2):
            inputs.append([values[b, t].item(), h])
            h = states[b, t].item()
    mean = np.mean(inputs, axis=0)
    want = np.mean([(1 - 0.5) * mean[0] ** 2, (1 - 0.25) * mean[1] ** 2])
    (z,) = net.z_term.regularizers().values()
    assert z.item() == pytest.approx(want, rel=1e-14)
    net.eval()
    net.accumulate(values)
    assert net.z_term.regularizers() == {}  # measured in training only, as the reference's append_input
    nmu = _spec("nmu", z_regularizer=True).build(0, dtype=torch.float64)
    with torch.no_grad():
        nmu.cell.unit.W.copy_(torch.tensor([[0.75, 1.0]]))
    nmu.accumulate(torch.tensor([[2.0, 3.0]], dtype=torch.float64))  # inputs [2, 1], [3, 2]
    want = np.mean([(1 - 0.75) * (1 - 2.5) ** 2, 0.0])
    assert nmu.z_term.regularizers()["z"].item() == pytest.approx(want, rel=1e-14)
    with pytest.raises(ConfigError, match="R_z"):
        _spec("nalu", z_regularizer=True)


# --- batched over runs ---------------------------------------------------------------------------


def test_runs_trained_together_equal_each_run_trained_alone_in_float64(tmp_path) -> None:
    small = write_digit_fixture(tmp_path, 240, 60)  # a tiny fixture: float64 CNNs are slow
    task = SequentialMnistTask("prod", length=2, extrapolation_lengths=(1, 3), source=str(small))
    spec = _spec("nmu", z_regularizer=True)
    recipe = TrainRecipe(iterations=5, batch_size=8, eval_every=2,
                         regularizers={"sparsity": LinearRamp(10.0, 1, 3), "z": Constant(1.0)})
    seeds = [0, 9]
    together = train(spec, task, seeds, recipe, threshold=0.0, dtype=torch.float64)
    for i, seed in enumerate(seeds):
        alone = train(spec, task, [seed], recipe, threshold=0.0, dtype=torch.float64)
        for (name, p), q in zip(together.model.named_parameters(), alone.model.parameters()):
            torch.testing.assert_close(p[i], q[0], rtol=1e-12, atol=1e-12, msg=name)
        assert together.runs[i].interpolation_mse == pytest.approx(alone.runs[0].interpolation_mse, rel=1e-12)
    stacked = stack_modules([spec.build(s, dtype=torch.float64) for s in seeds])
    images = task.sequence_set("valid", dtype=torch.float64)[0]
    out = stacked(images)
    for i, seed in enumerate(seeds):
        torch.testing.assert_close(out[i], spec.build(seed, dtype=torch.float64)(images[0]), rtol=1e-12, atol=0)


# --- training on the fixture, and after training -------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    task = _prod_task()
    spec = _spec("nmu")
    recipe = TrainRecipe(iterations=48, optimizer=OptimizerSpec("adam", 1e-3), batch_size=64, eval_every=16)
    return task, spec, train(spec, task, [2], recipe, threshold=0.0)


def test_a_short_training_on_the_fixture_learns(trained) -> None:
    _, _, out = trained
    curve = out.runs[0].curve.interpolation_mse
    assert math.isfinite(curve[-1]) and curve[-1] < 0.5 * curve[0], curve  # validation MSE halves at least


def test_the_per_length_test_mse_is_the_trainers_at_the_longest_length(trained) -> None:
    task, spec, out = trained
    metrics = mse_by_test_length(out, spec, task, [2])
    assert sorted(metrics) == ["test_mse_len_1", "test_mse_len_2", "test_mse_len_5"]
    assert metrics["test_mse_len_5"][0] == pytest.approx(out.runs[0].extrapolation_mse, rel=1e-5)
    # length 1 by hand: one NMU step from h0 = 1, (w0·l + 1 − w0)(w1·1 + 1 − w1), against the labels
    model = out.selected_model().eval()
    idx = task.evaluation_indices("test", 1)[:, 0]
    with torch.no_grad():
        digit = model.digits(task.images("test")[torch.tensor(idx)].unsqueeze(0))[0].double()
    w0, w1 = model.cell.unit.W.detach().double()[0, 0].tolist()
    pred = (w0 * digit + 1 - w0) * (w1 + 1 - w1)
    want = ((pred - torch.tensor(task.labels("test")[idx], dtype=torch.float64)) ** 2).mean().item()
    assert metrics["test_mse_len_1"][0] == pytest.approx(want, rel=1e-5)
    again = per_length_mse(model, task, [5])
    assert again[5][0] == metrics["test_mse_len_5"][0]


def test_reference_thresholds_follow_the_r_scripts() -> None:
    from scipy import stats as st

    t = reference_thresholds({1: [1.0, 2.0, 3.0], 2: [4.0], 3: [1.0, float("nan"), 3.0]})
    assert t[1] == pytest.approx(2.0 + st.t.ppf(0.99, 8) * 1.0 / math.sqrt(3), rel=1e-12)  # df 8, hard-coded
    assert math.isnan(t[2])  # one value: R's sd is NA
    assert t[3] == pytest.approx(2.0 + st.t.ppf(0.99, 8) * math.sqrt(2) / math.sqrt(2), rel=1e-12)
    t_n1 = reference_thresholds({1: [1.0, 2.0, 3.0]}, df=None)
    assert t_n1[1] == pytest.approx(2.0 + st.t.ppf(0.99, 2) / math.sqrt(3), rel=1e-12)
    rows = success_by_length({1: [0.5, 3.0, float("nan")], 2: [1.0]}, {1: 3.0, 2: float("nan")})
    assert [(r.length, r.solved, r.runs) for r in rows] == [(1, 1, 3), (2, 0, 1)]  # strictly below
