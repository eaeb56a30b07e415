"""With ``nalm.units._base.CPU_BATCH_INVARIANT``, a run's bits do not depend on the batch it is trained
in (CPU): alone, at index 0 or k of a batch of other seeds, or in a ``train_groups`` batch with another
cell, it has the same parameters, curves and training losses, bit for bit.

What made them depend on the batch (each fixed where it lives, and checked here):

* Adam's fused CPU kernel computes a tensor in SIMD blocks and its last few elements with scalar
  code that rounds differently, so which of a run's values fell in the scalar tail depended on S and
  the run's position: the trainer's Adam uses its ``_foreach_`` arithmetic on the CPU
  (``StackedAdam.batch_invariant``), whose ops round the same on both paths.
* ``torch.sigmoid`` has the same SIMD/scalar split (NAC, NALU, iNALU, G-NALU, the gated unit, NAC•σ):
  ``nalm.units._base.sigmoid`` computes each run as its own row of the loop.
* ``linear`` evaluated every run on one shared input as one ``[B, I] @ [I, S·O]`` product, whose
  columns round differently from the run's own product: on the CPU it broadcasts instead.

Evaluation sets here are small enough to be evaluated in one chunk at every batch size (see
``BatchedRuns._mse``), and no run diverges (a diverged run's logged values end with its own batch's).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nalm.tasks.inalu_data import INALUArithmeticTask
from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask
from nalm.training import (
    Constant,
    LinearRamp,
    ModelSpec,
    OptimizerSpec,
    RunGroup,
    TrainRecipe,
    train,
    train_groups,
)
from nalm.training.recipe import PenaltySteps
from nalm.units import _base as unit_base
from nalm.units._base import sigmoid


@pytest.fixture(autouse=True)
def batch_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unit_base, "CPU_BATCH_INVARIANT", True)


SEED = 3
OTHERS = (11, 12, 13, 14, 15, 16)  # a batch of 7: 7·n is not a multiple of any SIMD width here
ITERATIONS = 30


def _task(op: str, inputs: int) -> StaticArithmeticTask:
    if inputs == 100:
        return StaticArithmeticTask(op, input_size=100, eval_samples=300)
    # the Primer's single-module task: 2 inputs, or 10 with 8 distractors
    return SingleModuleTask(op, input_size=inputs, subset_ratio=1 / inputs, eval_samples=300)


def _recipe(**kw) -> TrainRecipe:
    base = {"iterations": ITERATIONS, "batch_size": 64, "eval_every": 10, "record_train_loss": True,
            "optimizer": OptimizerSpec("adam", 1e-2)}
    base.update(kw)
    return TrainRecipe(**base)


ADAM_SPARSITY = _recipe(regularizers={"sparsity": LinearRamp(1.0, 0, ITERATIONS)})

# family -> (spec, task, recipe, task of the other cell in a train_groups batch)
FAMILIES = {
    "nau-nmu": (ModelSpec(("nau", "nmu"), 100, 1, hidden=2), _task("mul", 100), ADAM_SPARSITY, "add"),
    "nau-nau": (ModelSpec(("nau", "nau"), 100, 1, hidden=2), _task("add", 100), ADAM_SPARSITY, "sub"),
    "nac": (ModelSpec(("nac", "nac"), 100, 1, hidden=2), _task("add", 100), _recipe(), "sub"),
    "nalu": (ModelSpec(("nalu", "nalu"), 100, 1, hidden=2), _task("add", 100), _recipe(), "mul"),
    "nalu-2": (ModelSpec(("nalu",), 2, 1), _task("mul", 2), _recipe(), "add"),
    "inalu": (
        ModelSpec(("inalu",), 10, 1), _task("mul", 10),
        _recipe(regularizers={"inalu": Constant(1e-3)}, clip_grad_value=0.1), "add",
    ),
    "inalu-rmsprop_tf1": (  # the schlor2020 protocol: alternating updates, extra penalty steps
        ModelSpec(("inalu",), 2, 1, options=({"init": "original"},)), INALUArithmeticTask("mul", samples=640),
        _recipe(optimizer=OptimizerSpec("rmsprop_tf1", 1e-2), clip_grad_value=0.1,
                update_cycle=("weights", "weights", "gate"),
                penalty_steps=PenaltySteps(after=0, below=float("inf"))),
        "add",
    ),
    "npu": (
        ModelSpec(("npu", "nau"), 2, 1, hidden=6), _task("mul", 2),
        _recipe(regularizers={"l1": Constant(1e-4)}), "add",
    ),
    "real_npu": (
        ModelSpec(("real_npu",), 10, 1), _task("mul", 10),
        _recipe(regularizers={"l1": Constant(1e-4)}), "div",
    ),
    "nmu-100-inputs": (  # heim2020's NMU: NAU (no clamp) 100 -> 100, NMU over 100 inputs, RMSProp
        ModelSpec(("nau", "nmu"), 100, 1, hidden=100,
                  options=({"init": "small", "clamp": False}, {"init": "small", "oob_mode": "regularized"})),
        _task("mul", 100),
        _recipe(optimizer=OptimizerSpec("rmsprop", 1e-3), regularizers={"param_norms": Constant(1e-5)}),
        "add",
    ),
}


def _runs(spec, task, recipe, other_op, dtype):
    """The run of SEED alone, at index 0 and index 4 of a batch of 7, and grouped after another cell."""
    other_task = dataclasses.replace(task, op=other_op)
    alone = train(spec, task, [SEED], recipe, threshold=1e-3, dtype=dtype)
    first = train(spec, task, [SEED, *OTHERS], recipe, threshold=1e-3, dtype=dtype)
    later = train(spec, task, [*OTHERS[:4], SEED, *OTHERS[4:]], recipe, threshold=1e-3, dtype=dtype)
    grouped = train_groups(
        spec, [RunGroup(other_task, OTHERS[:3], 1e-3), RunGroup(task, (OTHERS[3], SEED), 1e-3)],
        recipe, dtype=dtype,
    )[1]
    return [(alone, 0), (first, 0), (later, 4), (grouped, 1)], first


def _same_floats(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_run_has_the_same_bits_in_any_batch(family: str, dtype: torch.dtype) -> None:
    spec, task, recipe, other_op = FAMILIES[family]
    placements, batch = _runs(spec, task, recipe, other_op, dtype)
    (alone, _), *others = placements
    want = alone.runs[0]
    # Not vacuous: the run trained without diverging, and its batch-mates are other runs.
    assert want.status == "ok" and want.iterations == ITERATIONS
    initial = spec.build(SEED, dtype=dtype)
    assert any(not np.array_equal(want.parameters.final[n], p.detach().numpy())
               for n, p in initial.named_parameters())
    assert not _same_floats(batch.runs[1].curve.interpolation_mse, want.curve.interpolation_mse)
    for out, index in others:
        got = out.runs[index]
        assert got.seed == SEED
        for name, value in want.parameters.final.items():
            assert np.array_equal(got.parameters.final[name], value), (family, name)
            assert np.array_equal(got.parameters.selected[name], want.parameters.selected[name]), name
        for key in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
            assert _same_floats(getattr(got.curve, key), getattr(want.curve, key)), (family, key)
        assert (got.selected_step, got.solved_at, got.iterations) == (
            want.selected_step, want.solved_at, want.iterations
        )
        assert _same_floats(out.train_loss[:, index].numpy(), alone.train_loss[:, 0].numpy())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigmoid_gives_each_run_its_value_alone(dtype: torch.dtype) -> None:
    """Value and gradient of each run of a stack are torch.sigmoid's of that run alone (a ``[1, ...]``
    tensor of the same layout), for contiguous and transposed inputs (linear's outputs are)."""
    torch.manual_seed(0)
    differs = False
    for shape, dims in (((7, 3, 37), 2), ((5, 1, 2), 2), ((9, 37), 1), ((6, 21, 5), 2)):
        base = torch.randn(shape, dtype=dtype) * 4
        for layout in (base, base.mT) if dims == 2 else (base,):
            x = layout.clone().requires_grad_()  # (clone keeps the layout)
            y = sigmoid(x, dims)
            grad = torch.randn_like(y)
            (g,) = torch.autograd.grad(y, x, grad)
            for k in range(shape[0]):
                one = layout[k : k + 1].clone().requires_grad_()
                want = torch.sigmoid(one)
                (want_g,) = torch.autograd.grad(want, one, grad[k : k + 1])
                assert torch.equal(y[k], want[0]) and torch.equal(g[k], want_g[0])
            differs |= not torch.equal(y, torch.sigmoid(x))  # what the plain call gives the stack
    assert differs  # (the plain call does depend on the batch here, so the test can fail)
    z = torch.randn(1, 4, 5, dtype=dtype)
    assert torch.equal(sigmoid(z), torch.sigmoid(z))  # one run: the plain call
    w = torch.randn(2, 3, 7, 37, dtype=dtype)  # two run axes: as one of 6 runs
    assert torch.equal(sigmoid(w), sigmoid(w.reshape(6, 7, 37)).reshape(w.shape))


def test_the_environment_switches_the_exact_mode_for_a_process() -> None:
    import os
    import subprocess
    import sys

    code = "import nalm.units._base as b; print(b.CPU_BATCH_INVARIANT)"
    for value, expected in (("1", "True"), ("0", "False"), ("", "False")):
        env = {**os.environ, "NALM_BATCH_INVARIANT": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected, value
