"""The heim2020 suite: Heim et al.'s large-scale task on Sobol points, its recipe, β schedule, whole-
network penalty, the best-10 median/MAD aggregation, the units' U(0, 0.1) initialisation, and the
suite's plans."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch

import nalm
from nalm.bench.plan import plan_cells
from nalm.bench.schema import load_suite
from nalm.errors import ConfigError
from nalm.report.medians import MedianRow, best_of, median_mad
from nalm.tasks.heim2020 import NPULargeTask, sobol_points, subset_slices, targets
from nalm.training import ModelSpec, train
from nalm.training.recipe import model_regularizer
from nalm.training.recipes import heim2020_recipe
from nalm.training.schedules import ExpGrowth, ScheduleState, StepExponential

STATE = ScheduleState(last_interpolation_mse=torch.tensor([math.inf]))


# ---------------------------------------------------------------- data
def test_subsets_are_0_50_and_38_88() -> None:
    assert subset_slices(100) == (slice(0, 50), slice(38, 88))  # overlap round(12.5) = 12


def test_targets_against_hand_sums() -> None:
    x = np.arange(100, dtype=np.float64)[None]
    a, b = sum(range(50)), sum(range(38, 88))
    assert (a, b) == (1225, 3125)
    assert targets(x, "add")[0, 0] == a + b
    assert targets(x, "mul")[0, 0] == a * b
    assert targets(x, "div")[0, 0] == 1 / a
    assert targets(x, "root")[0, 0] == 35.0


@pytest.mark.parametrize("op", ["add", "mul", "div", "root"])
def test_batches_are_sobol_points_in_order_and_equal_for_every_run(op: str) -> None:
    task = NPULargeTask(op)
    lo, hi = task.interpolation
    x0, y0 = task.train_batch([0, 7, 3], 0, 128, dtype=torch.float64)
    x1, _ = task.train_batch([0], 1, 128, dtype=torch.float64)
    assert x0.shape == (3, 128, 100) and y0.shape == (3, 128, 1)
    assert torch.equal(x0[0], x0[1]) and torch.equal(x0[0], x0[2])  # no randomness across runs
    u = sobol_points(0, 257, 100)
    assert np.allclose(x0[0].numpy(), lo + u[1:129] * (hi - lo))  # point 0 (all zeros) skipped
    assert np.allclose(x1[0].numpy(), lo + u[129:257] * (hi - lo))
    assert float(x0.min()) >= lo and float(x0.max()) <= hi
    # targets from the subset sums, by numpy
    xs = x0[0].numpy()
    a, b = xs[:, :50].sum(1), xs[:, 38:88].sum(1)
    expect = {"add": lambda: a + b, "mul": lambda: a * b, "div": lambda: 1 / a, "root": lambda: np.sqrt(a)}[op]()
    assert np.allclose(y0[0, :, 0].numpy(), expect)
    # a step beyond a cached chunk, and back: the same numbers
    far = task.train_inputs(200, 128)
    assert np.array_equal(far, lo + sobol_points(1 + 200 * 128, 128, 100) * (hi - lo))
    assert np.array_equal(task.train_inputs(0, 128), x0[0].numpy())


@pytest.mark.parametrize("op, lo, hi", [("add", -2, 2), ("mul", -2, 2), ("div", -0.5, 0), ("root", 0, 4)])
def test_test_set_is_revalidates_mirrored_sobol_points(op: str, lo: float, hi: float) -> None:
    task = NPULargeTask(op)
    x, y = task.evaluation_set("extrapolation", [0, 1])
    assert x.shape == (1, 10_000, 100) and y.shape == (2, 10_000, 1)
    u = sobol_points(2, 10_000, 100)  # Sobol.jl's first point, then one more discarded
    assert np.array_equal(task.evaluation_inputs("extrapolation"), hi + u * (lo - hi))
    assert float(x.min()) >= lo and float(x.max()) <= hi
    again, _ = NPULargeTask(op).evaluation_set("extrapolation", [5])
    assert torch.equal(x, again)  # bit-identical, deterministic
    xi, _ = task.evaluation_set("interpolation", [0])
    assert xi.shape == (1, 1000, 100)


def test_bad_task_options_are_refused() -> None:
    with pytest.raises(ConfigError):
        NPULargeTask("sub")
    with pytest.raises(ConfigError):
        NPULargeTask("add", interpolation=(1, 0))


# ---------------------------------------------------------------- recipe and schedules
def test_exp_growth_counts_like_the_scripts() -> None:
    s = ExpGrowth(1e-5, 1e-4, 10.0, 10_000)
    assert s(0, STATE) == 1e-5 and s(9_998, STATE) == 1e-5
    assert s(9_999, STATE) == pytest.approx(1e-4)  # update 10,000 (1-based) already grown
    assert s(50_000, STATE) == 1e-4  # clipped at the end
    d = ExpGrowth(1e-9, 1e-7)
    assert [d(t, STATE) for t in (9_998, 9_999, 19_998, 19_999, 99_999)] == pytest.approx(
        [1e-9, 1e-8, 1e-8, 1e-7, 1e-7])
    assert StepExponential(1e-9, 1e-7)(9_999, STATE) == 1e-9  # the other schedule: one update later


def test_recipe_per_operation_and_nmu_exceptions() -> None:
    r = heim2020_recipe("npu", "add")
    assert r.iterations == 100_000 and r.optimizer.name == "rmsprop" and r.optimizer.lr == 1e-2
    assert dict(r.optimizer.options) == {"alpha": 0.9, "eps": 1e-8} and r.selection == "final"
    assert r.regularizers["param_norms"] == ExpGrowth(1e-5, 1e-4, 10.0, 10_000)
    assert heim2020_recipe("real_npu", "div").regularizers["param_norms"] == ExpGrowth(1e-9, 1e-7)
    assert heim2020_recipe("npu", "root").regularizers["param_norms"] == ExpGrowth(1e-6, 1e-4)
    nmu_add, nmu_mul = heim2020_recipe("nmu", "add"), heim2020_recipe("nmu", "mul")
    assert nmu_add.iterations == 10_000 and nmu_add.regularizers["param_norms"].start == 1e-7
    assert nmu_mul.iterations == 20_000 and nmu_mul.regularizers["param_norms"].start == 1e-9
    assert "param_l1" in heim2020_recipe("npu", "mul", penalty="param_l1").regularizers
    simple = heim2020_recipe("npu", "all")
    assert simple.iterations == 20_000 and simple.optimizer.name == "adam" and not simple.regularizers


def test_model_regularizers_by_hand() -> None:
    W = torch.tensor([[[3.0, -4.0]], [[0.0, 0.0]]], requires_grad=True)  # runs: ‖W‖ = 5, 0
    g = torch.tensor([[1.0, -2.0], [0.5, 0.0]], requires_grad=True)  # ‖g‖ = √5, 0.5
    norms = model_regularizer("param_norms", [W, g])
    assert norms.tolist() == pytest.approx([5 + math.sqrt(5), 0.5])
    assert model_regularizer("param_l1", [W, g]).tolist() == pytest.approx([10.0, 0.5])
    norms.sum().backward()
    assert torch.isfinite(W.grad).all() and W.grad[1].abs().sum() == 0  # zero array: zero gradient


# ---------------------------------------------------------------- aggregation
def test_best_10_median_and_mad_by_hand() -> None:
    values = [5.0, 1.0, float("nan"), 3.0, 2.0, 8.0, 4.0, 9.0, 7.0, 6.0, 100.0, 0.5]
    kept = best_of(values)
    assert kept == [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]  # NaN and 100 dropped
    med, mad = median_mad(kept)
    assert med == 4.5  # (4 + 5) / 2
    # |x − 4.5| sorted: 0.5 0.5 1.5 1.5 2.5 2.5 3.5 3.5 4 4.5 -> 2.5
    assert mad == statistics.median([4.0, 3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5, 4.5]) == 2.5
    assert median_mad([1.0, float("nan"), float("nan")]) == (math.inf, math.inf)


def test_check_overlap_and_reasons() -> None:
    row = MedianRow("heim2020", "large", "NPU", "add", 3, 3, 0.1, 0.02, 3000, 100_000, 0.092, 0.031, 10,
                    "test MSE, best 3 of 3")
    assert row.check() == "✓"
    far = MedianRow("heim2020", "large", "NPU", "add", 10, 10, 5.0, 0.1, 100_000, 100_000, 0.092, 0.031,
                    10, "test MSE, best 10 of 10")
    assert far.check().startswith("⚠ disagreement")
    cut = MedianRow("heim2020", "large", "NPU", "add", 3, 3, 5.0, 0.1, 3000, 100_000, 0.092, 0.031, 10, "")
    assert cut.check() == "⚠ cut: 3,000 of 100,000 updates, 3 of 10 runs"


# ---------------------------------------------------------------- units
def test_units_start_as_the_scripts_start_them() -> None:
    nau = nalm.create("nau", 100, 100, init="small", clamp=False)
    assert 0 <= float(nau.W.detach().min()) and float(nau.W.detach().max()) < 0.1
    with torch.no_grad():
        nau.W.fill_(2.0)
    assert nau(torch.ones(1, 100)).flatten()[0].item() == 200.0  # no clamp in the forward pass
    nau.project_()
    assert float(nau.W.detach().max()) == 2.0  # and no projection
    for unit, opts in (("nmu", {"init": "small"}), ("nalu", {"init": "small"}), ("npu", {"init": "small"})):
        layer = nalm.create(unit, 100, 1, **opts)
        weights = [p for n, p in layer.named_parameters() if n not in ("W_im", "g")]
        assert all(0 <= float(p.min()) and float(p.max()) < 0.1 for p in weights)
    assert float(nalm.create("nau", 3, 2).W.abs().max()) <= 0.5 + 1e-6  # default unchanged


# ---------------------------------------------------------------- training
def test_a_seeded_short_run_converges_on_the_real_npu_root_cell() -> None:
    task = NPULargeTask("root")
    spec = ModelSpec(("nau", "real_npu"), 100, 1, hidden=100,
                     options=({"init": "small", "clamp": False}, {"init": "small"}))
    recipe = heim2020_recipe("real_npu", "root", iterations=400)
    out = train(spec, task, [0, 1], recipe, threshold=1e-5)
    again = train(spec, task, [0, 1], recipe, threshold=1e-5)
    for run, rerun in zip(out.runs, again.runs):
        first = run.curve.interpolation_mse[0]
        assert run.interpolation_mse < 0.01 * first, (first, run.interpolation_mse)
        assert run.extrapolation_mse == rerun.extrapolation_mse  # deterministic data and seeds


# ---------------------------------------------------------------- the suite
def test_the_suite_plans_the_protocol() -> None:
    suite = load_suite("heim2020")
    full = plan_cells(suite, "full")
    assert len(full) == 24
    by_id = {c.id: c for c in full}
    assert by_id["large-nmu-add/NMU/add"].iterations == 10_000
    assert by_id["large-nmu-mul/NMU/mul"].iterations == 20_000
    assert len(by_id["large-nmu-mul/NMU/mul"].seeds) == 20 and len(by_id["large/NPU/mul"].seeds) == 20
    assert len(by_id["large/NPU/add"].seeds) == 10 and by_id["large/NPU/add"].iterations == 100_000
    assert len(by_id["simple/NPU-s/all"].seeds) == 20 and by_id["simple/NPU-s/all"].iterations == 20_000
    assert by_id["large/NPU/div"].recipe.regularizers["param_norms"] == ExpGrowth(1e-9, 1e-7)
    assert by_id["large-nmu-add/NMU/add"].recipe.regularizers["param_norms"].start == 1e-7
    for c in full:
        config = next(iter(c.configs.values()))[1]
        assert c.recipe.selection == "final"
        if c.block.startswith("large"):
            assert config["published"]["task"] == "npu-large-100"
    quick = plan_cells(suite, "quick")
    assert len(quick) == 23
    assert all(c.iterations == 3000 for c in quick if c.block.startswith("large"))
