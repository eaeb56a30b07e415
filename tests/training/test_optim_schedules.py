"""StackedAdam against torch's Adam; schedules against the spec's numbers; the iNALU hook."""

from __future__ import annotations

import pytest
import torch

from nalm.errors import ConfigError
from nalm.training import LinearRamp, ModelSpec, OptimizerSpec, StepExponential, TrainRecipe, train
from nalm.training.hooks import INALUReinitialization
from nalm.training.optim import StackedAdam
from nalm.training.schedules import GatedConstant, ScheduleState


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stacked_adam_is_bitwise_torch_fused_adam(dtype) -> None:
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(3, 2, 5, dtype=dtype)) for _ in range(2)]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    a = StackedAdam(ours, lr=1e-2)
    b = torch.optim.Adam(ref, lr=1e-2, fused=True)
    for _ in range(100):
        for p, q in zip(ours, ref):
            g = torch.randn_like(p)
            p.grad, q.grad = g.clone(), g.clone()
        a.step()
        b.step()
    for p, q in zip(ours, ref):
        assert torch.equal(p, q)


def test_stacked_adam_matches_the_textbook_update_closely() -> None:
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(3, 2, 5, dtype=torch.float64))]
    ref = [torch.nn.Parameter(ours[0].detach().clone())]
    a, b = StackedAdam(ours, lr=1e-2), torch.optim.Adam(ref, lr=1e-2, foreach=False)
    for _ in range(100):
        g = torch.randn_like(ours[0])
        ours[0].grad, ref[0].grad = g.clone(), g.clone()
        a.step()
        b.step()
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-13, atol=1e-14)


def test_per_run_learning_rate_equals_separate_runs() -> None:
    torch.manual_seed(1)
    start = torch.randn(2, 4, dtype=torch.float64)
    grads = [torch.randn(2, 4, dtype=torch.float64) for _ in range(50)]
    batched = torch.nn.Parameter(start.clone())
    opt = StackedAdam([batched], lr=(1e-2, 3e-1))
    for g in grads:
        batched.grad = g.clone()
        opt.step()
    for run, lr in enumerate((1e-2, 3e-1)):
        single = torch.nn.Parameter(start[run : run + 1].clone())
        ref = torch.optim.Adam([single], lr=lr, foreach=False)
        for g in grads:
            single.grad = g[run : run + 1].clone()
            ref.step()
        torch.testing.assert_close(batched[run], single[0], rtol=1e-14, atol=1e-15)


def test_linear_ramp_matches_spec_example() -> None:
    # NAU/NMU ramp (Primer recipe): λ̂ = 10, start 20 000, end 35 000, t = 27 500 → λ = 5
    ramp = LinearRamp(10.0, 20_000, 35_000)
    assert ramp(27_500, None) == 5.0  # type: ignore[arg-type]
    assert ramp(0, None) == 0.0 and ramp(10**6, None) == 10.0  # type: ignore[arg-type]


def test_step_exponential_matches_npu_schedule() -> None:
    # Primer protocol: mul β is 1e-7 for t < 10 000, 1e-6 for t < 20 000, 1e-5 afterwards
    beta = StepExponential(1e-7, 1e-5)
    values = [beta(t, None) for t in (0, 9_999, 10_000, 19_999, 20_000, 10**6)]  # type: ignore[arg-type]
    assert values == pytest.approx([1e-7, 1e-7, 1e-6, 1e-6, 1e-5, 1e-5], rel=1e-12)


def test_gated_constant_is_per_run() -> None:
    rule = GatedConstant(0.05, after=100, below=1.0)
    state = ScheduleState(last_interpolation_mse=torch.tensor([0.5, 2.0]))
    assert rule(50, state) == 0.0
    assert torch.equal(rule(101, state), torch.tensor([0.05, 0.0]))


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"iterations": -1}, "iterations"),
        ({"iterations": 10, "batch_size": 0}, "batch_size"),
        ({"iterations": 10, "eval_every": 0}, "eval_every"),
        ({"iterations": 10, "clip_grad_norm": 0.0}, "clip_grad_norm"),
    ],
)
def test_recipe_rejects_bad_values(kwargs, field) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainRecipe(**kwargs)


def test_optimizer_spec_rejects_bad_lr() -> None:
    with pytest.raises(ConfigError, match="lr"):
        OptimizerSpec("adam", 0.0)
    with pytest.raises(ConfigError, match="lr"):
        OptimizerSpec("sgd", (0.1, 0.2))


class _StallingTask:
    """Targets no unit can fit, so the interpolation MSE stays far above 1 and never improves."""

    in_features, out_features = 2, 1

    def train_batch(self, seeds, step, batch_size, *, device=None, dtype=torch.float32):
        g = torch.Generator().manual_seed(step)
        x = torch.rand(len(seeds), batch_size, 2, generator=g, dtype=dtype)
        return x, torch.full((len(seeds), batch_size, 1), 100.0, dtype=dtype) * torch.sign(x[..., :1] - 0.5)

    def evaluation_set(self, split, seeds, *, device=None, dtype=torch.float32):
        x = torch.rand(1, 64, 2, generator=torch.Generator().manual_seed(7), dtype=dtype)
        return x, (100.0 * torch.sign(x[..., :1] - 0.5)).expand(len(seeds), -1, -1)


def test_inalu_reinitialization_fires_on_stalled_runs_and_redraws_them() -> None:
    spec = ModelSpec(("inalu",), 2, 1)
    # A learning rate this small keeps the MSE flat (~1e4): the textbook stalled run.
    recipe = TrainRecipe(iterations=120, batch_size=8, eval_every=10,
                         optimizer=OptimizerSpec("adam", 1e-12))
    fired: list[tuple[int, list[bool]]] = []

    class Spy(INALUReinitialization):
        def after_step(self, step, model, context):  # noqa: ANN001
            original = context.reinitialize

            def spy(runs, step_):  # noqa: ANN001
                fired.append((step_, runs.tolist()))
                original(runs, step_)

            context.reinitialize = spy
            super().after_step(step, model, context)
            context.reinitialize = original

    recipe = TrainRecipe(**{**recipe.__dict__, "hooks": (Spy(every=10, min_history=50),)})
    out = train(spec, _StallingTask(), [0, 1], recipe, threshold=1e-5)
    assert fired, "the rule never fired on a run stuck at MSE ~1e4"
    # steps 0..50 are 51 entries (> 50); the history restarts at 51, so 51..110 is the next
    # window, where each run is judged on its own (re-drawn) losses
    assert fired[0] == (50, [True, True])
    assert [step for step, _ in fired[1:]] in ([], [110])
    assert all(r.status == "ok" for r in out.runs)
    plain = train(spec, _StallingTask(), [0, 1], TrainRecipe(**{**recipe.__dict__, "hooks": ()}),
                  threshold=1e-5)
    redrawn = out.model.get_parameter("0.W_a_hat")
    assert not torch.allclose(redrawn, plain.model.get_parameter("0.W_a_hat"))
