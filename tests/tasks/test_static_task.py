"""Static arithmetic task: reference check values, exact evaluation sets, deterministic training data."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from nalm.tasks import SingleModuleTask, StaticArithmeticTask, Task, madsen_simple_task
from nalm.errors import ConfigError
from nalm.tasks import rng as cr
from nalm.tasks.static import EVAL_RNG_SEEDS


@pytest.fixture(scope="module")
def mul() -> StaticArithmeticTask:
    return StaticArithmeticTask("mul")


def test_subset_offsets_match_reference_check_values(mul: StaticArithmeticTask) -> None:
    assert [mul.offset(s) for s in range(5)] == [44, 37, 40, 42, 58]
    assert mul.subsets(0) == ((44, 69), (57, 82))
    assert (mul.subset_size, mul.overlap_size, mul.used_size) == (25, 12, 38)
    idx = mul.subset_indices(0)
    assert idx[0] == list(range(44, 69)) and idx[1] == list(range(57, 82))
    assert mul.formula(0) == "sum(x[44:69]) * sum(x[57:82])"


def test_evaluation_inputs_match_reference_check_values(mul: StaticArithmeticTask) -> None:
    val = mul.evaluation_inputs("interpolation")
    test = mul.evaluation_inputs("extrapolation")
    assert val.shape == test.shape == (10_000, 100)
    np.testing.assert_allclose(val[0, :2], [1.91809487, 1.88165263], rtol=0, atol=5e-9)
    np.testing.assert_allclose(test[0, :2], [4.13304568, 3.26420507], rtol=0, atol=5e-9)


def _reference_set(op: str, spec, n: int, rows: int, rng_seed: int, subsets) -> tuple:
    """stable-nalu's fork sampling, written out from the spec (stable-nalu's dataset code)."""
    rng = np.random.RandomState(rng_seed)
    if len(spec) == 1:
        x = rng.uniform(low=spec[0][0], high=spec[0][1], size=(rows, n))
    else:
        p0 = rng.uniform(low=spec[0][0], high=spec[0][1], size=(rows, n))
        p1 = rng.uniform(low=spec[1][0], high=spec[1][1], size=(rows, n))
        x = np.where(rng.randint(2, size=(rows, n)), p0, p1)
    sums = [np.sum(x[..., s:e], axis=(1,)) for s, e in subsets]
    t = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "div": lambda a, b: a / b, "squared": lambda a, b: a * a, "root": lambda a, b: np.sqrt(a)}[op](*sums)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(t[:, None], dtype=torch.float32)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "squared", "root"])
def test_evaluation_sets_bit_identical_to_reference(op: str) -> None:
    task = StaticArithmeticTask(op, eval_samples=2000)
    for split, spec in (("interpolation", ((1.0, 2.0),)), ("extrapolation", ((2.0, 6.0),))):
        x, y = task.evaluation_set(split, [3])
        rx, ry = _reference_set(op, spec, 100, 2000, EVAL_RNG_SEEDS[split], task.subsets(3))
        assert torch.equal(x[0], rx)
        assert torch.equal(y[0], ry)


def test_union_evaluation_set_bit_identical_to_reference() -> None:
    spec = ((-6.0, -2.0), (2.0, 6.0))
    task = StaticArithmeticTask("mul", extrapolation_range=spec, eval_samples=1000)
    x, y = task.evaluation_set("extrapolation", [1])
    rx, ry = _reference_set("mul", spec, 100, 1000, EVAL_RNG_SEEDS["extrapolation"], task.subsets(1))
    assert torch.equal(x[0], rx) and torch.equal(y[0], ry)
    assert bool((x < 0).any()) and bool((x > 0).any())


def test_evaluation_set_shapes_and_seeds(mul: StaticArithmeticTask) -> None:
    x, y = mul.evaluation_set("interpolation", [0, 1, 0])
    assert x.shape == (1, 10_000, 100) and y.shape == (3, 10_000, 1)
    assert torch.equal(y[0], y[2]) and not torch.equal(y[0], y[1])
    x2, y2 = mul.evaluation_set("interpolation", [1])
    assert torch.equal(x, x2) and torch.equal(y[1], y2[0])
    x64, y64 = mul.evaluation_set("extrapolation", [0], dtype=torch.float64)
    assert x64.dtype == y64.dtype == torch.float64
    np.testing.assert_array_equal(x64[0].numpy(), mul.evaluation_inputs("extrapolation"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_train_batch_deterministic_and_per_run(mul: StaticArithmeticTask, dtype: torch.dtype) -> None:
    x1, y1 = mul.train_batch([5, 6, 7], 11, 64, dtype=dtype)
    x2, y2 = mul.train_batch([5, 6, 7], 11, 64, dtype=dtype)
    assert x1.shape == (3, 64, 100) and y1.shape == (3, 64, 1)
    assert x1.dtype == y1.dtype == dtype
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # run 6 alone, and between other seeds, sees the same batch
    xa, ya = mul.train_batch([6], 11, 64, dtype=dtype)
    xb, yb = mul.train_batch([100, 6, 2], 11, 64, dtype=dtype)
    assert torch.equal(x1[1], xa[0]) and torch.equal(x1[1], xb[1])
    assert torch.equal(y1[1], ya[0]) and torch.equal(y1[1], yb[1])
    # different seeds and different steps differ
    assert not torch.equal(x1[0], x1[1])
    x3, _ = mul.train_batch([5, 6, 7], 12, 64, dtype=dtype)
    assert not torch.equal(x1, x3)
    # inputs lie in the interpolation range
    assert float(x1.min()) >= 1.0 and float(x1.max()) <= 2.0


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "squared", "root"])
def test_train_targets_follow_the_subsets(op: str) -> None:
    task = StaticArithmeticTask(op, num_subsets=2)
    seeds = [0, 1]
    x, y = task.train_batch(seeds, 3, 32, dtype=torch.float64)
    for i, s in enumerate(seeds):
        (a0, a1), (b0, b1) = task.subsets(s)
        a, b = x[i, :, a0:a1].sum(-1), x[i, :, b0:b1].sum(-1)
        want = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "squared": a * a,
                "root": a.sqrt()}[op]
        # same sums, another summation order: equal up to a few ulps of the subset sums
        atol = 64 * float(torch.finfo(torch.float64).eps) * float(a.abs().max() + b.abs().max())
        torch.testing.assert_close(y[i, :, 0], want, rtol=1e-13, atol=atol)
    x32, y32 = task.train_batch(seeds, 3, 32)
    (a0, a1), (b0, b1) = task.subsets(0)
    a, b = x32[0, :, a0:a1].double().sum(-1), x32[0, :, b0:b1].double().sum(-1)
    want = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "squared": a * a,
            "root": a.sqrt()}[op]
    torch.testing.assert_close(y32[0, :, 0], want.float(), rtol=2e-7, atol=0)


def test_train_stream_backends_agree(mul: StaticArithmeticTask) -> None:
    if not cr.numba_available():
        pytest.skip("numba kernels not available")
    for dtype in (torch.float32, torch.float64):
        nb = mul.train_stream([3, 4], dtype=dtype, backend="numba")
        th = mul.train_stream([3, 4], dtype=dtype, backend="torch")
        assert nb.backend == "numba" and th.backend == "torch"
        xa, ya = nb(5, 40)
        xb, yb = th(5, 40)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_train_batch_union_and_half_precision() -> None:
    task = StaticArithmeticTask("add", interpolation_range=((-2.0, -1.0), (1.0, 2.0)))
    x, y = task.train_batch([0], 0, 128)
    assert bool(((x.abs() >= 1) & (x.abs() <= 2)).all())
    assert bool((x < 0).any()) and bool((x > 0).any())
    xh, yh = task.train_batch([0], 0, 128, dtype=torch.bfloat16)
    assert xh.dtype == torch.bfloat16
    assert torch.equal(xh, x.to(torch.bfloat16))


def test_simple_variant() -> None:
    task = madsen_simple_task("mul")
    assert task.in_features == 4 and task.subsets(0) == task.subsets(123) == ((0, 4), (0, 2))
    x, y = task.train_batch([0], 0, 16, dtype=torch.float64)
    torch.testing.assert_close(y[0, :, 0], x[0].sum(-1) * x[0, :, :2].sum(-1), rtol=1e-14, atol=0)
    xv, yv = task.evaluation_set("interpolation", [0])
    assert xv.shape == (1, 10_000, 4)


def test_more_subsets() -> None:
    task = StaticArithmeticTask("add", subset_ratio=0.1, overlap_ratio=0.5, num_subsets=3)
    assert task.template == ((0, 10), (5, 15), (10, 20))
    x, y = task.train_batch([2], 0, 8, dtype=torch.float64)
    want = sum(x[0, :, s:e].sum(-1) for s, e in task.subsets(2))
    torch.testing.assert_close(y[0, :, 0], want, rtol=1e-13, atol=0)


def test_config_is_frozen_hashable_and_normalised() -> None:
    t = StaticArithmeticTask("add", interpolation_range=[1, 2])
    assert t.interpolation_range == ((1.0, 2.0),)
    assert t == StaticArithmeticTask("add") and hash(t) == hash(StaticArithmeticTask("add"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.op = "mul"  # type: ignore[misc]
    assert isinstance(t, Task)
    assert (t.in_features, t.out_features) == (100, 1)
    assert t.to_dict()["extrapolation_range"] == [[2.0, 6.0]]
    assert SingleModuleTask("add") != StaticArithmeticTask("add", input_size=2, subset_ratio=0.5,
                                                           overlap_ratio=0.0)


def test_import_nalm_stays_light() -> None:
    code = (
        "import sys, nalm, nalm.tasks, nalm.metrics;"
        "bad = [m for m in ('numba', 'scipy') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reuse_output_stream(mul: StaticArithmeticTask) -> None:
    plain = mul.train_stream([1, 2])
    reuse = mul.train_stream([1, 2], reuse_output=True)
    x1, y1 = reuse(0, 16)
    x1_copy = x1.clone()
    x2, y2 = reuse(1, 16)
    assert torch.equal(x2, plain(1, 16)[0]) and torch.equal(y2, plain(1, 16)[1])
    assert torch.equal(x1_copy, plain(0, 16)[0])
    if reuse.backend == "numba":
        assert x1.data_ptr() == x2.data_ptr()  # documented: the next call overwrites the batch


def test_reciprocal_is_one_over_a_and_refuses_a_zero_denominator() -> None:
    """Heim et al.'s large-scale 'div' and Mistry et al.'s division by small numbers: 1/a."""
    task = SingleModuleTask("reciprocal", input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                            interpolation_range=(1.0, 2.0), extrapolation_range=(2.0, 6.0))
    x = task.evaluation_inputs("extrapolation")
    a = x[:, task.subset_indices(0)[0]].sum(axis=1)
    np.testing.assert_array_equal(task.evaluation_targets("extrapolation", 0), 1.0 / a)
    with pytest.raises(ConfigError, match="op 'reciprocal' divides by a"):
        SingleModuleTask("reciprocal", input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                         interpolation_range=(0.0, 1e-3), extrapolation_range=(0.0, 1e-3))
    SingleModuleTask("reciprocal", input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                     interpolation_range=(0.0, 1e-3), extrapolation_range=(0.0, 1e-3),
                     allow_zero_denominator=True)
