"""Success thresholds, step selection, solved-at, scoring and Trask's normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nalm import metrics as M
from nalm.errors import ConfigError
from nalm.results import LearningCurve
from nalm.tasks import StaticArithmeticTask, madsen_simple_task, primer_task

N_MC = 100_000  # the published values used 1e6 samples


# ------------------------------------------------------------------------------ thresholds


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "squared", "root"])
def test_madsen_r_reproduces_published_thresholds(op: str) -> None:
    """Within 4 standard errors of the difference of two Monte Carlo estimates (ours with N_MC
    samples, the published one with 1e6, whose standard error we estimate from our sample sd)."""
    est = M.threshold_estimate(StaticArithmeticTask(op), "madsen_r", samples=N_MC)
    published = M.PUBLISHED_THRESHOLDS[op]
    se_published = est.stderr * math.sqrt(N_MC / 1_000_000)
    se = math.hypot(est.stderr, se_published)
    assert abs(est.value - published) < 4 * se, (est.value, published, se)
    assert est.samples == N_MC and est.policy == "madsen_r" and est.eps == 1e-5


def _add_closed_form(task: StaticArithmeticTask, a: tuple, b: tuple, eps: float) -> float:
    """ε²·[(μ Σc)² + σ² Σc²] for add over U[2,6] (μ = 4, σ² = 4/3), c_i = +1 − 2·[i ∈ a] per subset."""
    c = np.zeros(task.input_size)
    for s, e in (a, b):
        member = np.zeros(task.input_size, dtype=bool)
        member[s:e] = True
        c += np.where(member, -1.0, 1.0)
    return eps**2 * ((4.0 * c.sum()) ** 2 + (4.0 / 3.0) * (c**2).sum())


def test_add_thresholds_match_closed_form_for_both_geometries() -> None:
    task = StaticArithmeticTask("add")
    r = M.threshold_estimate(task, "madsen_r", samples=N_MC)
    g = M.threshold_estimate(task, "generator", samples=N_MC)
    r_exact = _add_closed_form(task, (0, 26), (13, 39), 1e-5)  # R: 26-element subsets, overlap 13
    g_exact = _add_closed_form(task, (0, 25), (13, 38), 1e-5)  # generator: 25, overlap 12
    assert r_exact == pytest.approx(1.47851e-5, rel=1e-5)
    assert g_exact == pytest.approx(1.60395e-5, rel=1e-5)
    assert abs(r.value - r_exact) < 4 * r.stderr
    assert abs(g.value - g_exact) < 4 * g.stderr
    # the off-by-one matters: the generator's threshold is far from the published one
    assert (g.value - M.PUBLISHED_THRESHOLDS["add"]) > 50 * g.stderr


def test_simple_task_threshold_geometry() -> None:
    t = madsen_simple_task("add")
    r = M.threshold_estimate(t, "madsen_r", samples=N_MC)
    # R: a = columns 1:2, b = 1:4 → c = (-2, -2, 0, 0); generator: a = 0:4, b = 0:2 → same multiset
    exact = _add_closed_form(StaticArithmeticTask("add", input_size=4, subset_ratio=0.5,
                                                  overlap_ratio=0.0), (0, 2), (0, 4), 1e-5)
    assert abs(r.value - exact) < 4 * r.stderr


@pytest.mark.parametrize(
    "op, ranges, exact",
    [
        # ε²·E[(|x1| + |x2|)²]
        ("add", "1_2", 1e-8 * (2 * 4 / 3 + 64)),
        ("sub", "neg20_neg10", 1e-8 * (2 * 400 / 12 + 60**2)),
        # ((1−ε)² − 1)²·E[x1²]E[x2²], E[x²] = μ² + σ²
        ("mul", "1_2", ((1 - 1e-4) ** 2 - 1) ** 2 * (16 + 16 / 12) ** 2),
        ("mul", "neg2_2", ((1 - 1e-4) ** 2 - 1) ** 2 * (16 + 16 / 12) ** 2),
    ],
)
def test_primer_simulated_thresholds(op: str, ranges: str, exact: float) -> None:
    est = M.threshold_estimate(primer_task(op, ranges), "simulated_eps_1e-4", samples=N_MC)
    assert abs(est.value - exact) < 4 * est.stderr
    e5 = M.threshold_estimate(primer_task(op, ranges), "simulated_eps_1e-5", samples=N_MC)
    assert e5.value == pytest.approx(est.value / 100, rel=2e-3)  # thresholds scale with ε²


def test_primer_table_values() -> None:
    """The protocol's Monte Carlo table for input size 2, ε = 1e-4 (three significant digits)."""
    cases = {("add", "neg20_neg10"): 3.67e-5, ("div", "1_2"): 5.78e-8, ("div", "0.1_0.2"): 1.48e-7,
             ("mul", "0.1_0.2"): 8.76e-8}
    for (op, r), want in cases.items():
        est = M.threshold_estimate(primer_task(op, r), "simulated_eps_1e-4", samples=N_MC)
        assert abs(est.value - want) < 4 * est.stderr + 0.005 * want, (op, r, est.value)


def test_fixed_and_published_policies() -> None:
    assert M.success_threshold(primer_task("mul", "10_20"), "fixed_1e-5") == 1e-5
    for op, v in M.PUBLISHED_THRESHOLDS.items():
        assert M.success_threshold(StaticArithmeticTask(op), "published") == v
    with pytest.raises(ConfigError, match=r"^threshold_policy: 'published' thresholds exist only"):
        M.success_threshold(StaticArithmeticTask("add", input_size=50), "published")


def test_published_thresholds_agree_with_csv() -> None:
    import csv
    from importlib.resources import files

    with files("nalm").joinpath("data/published_results.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["table"].startswith("success-threshold")]
    assert {r["operation"]: float(r["value"]) for r in rows} == M.PUBLISHED_THRESHOLDS


def test_default_policies_and_errors() -> None:
    assert M.default_threshold_policy(StaticArithmeticTask("add")) == "madsen_r"
    assert M.default_threshold_policy(primer_task("add")) == "fixed_1e-5"
    wide = StaticArithmeticTask("add", subset_ratio=0.5, overlap_ratio=0.0)  # R geometry needs 101
    assert M.default_threshold_policy(wide) == "generator"
    with pytest.raises(ConfigError, match=r"^threshold_policy: 'madsen_r' needs 101 inputs"):
        M.threshold_estimate(wide, "madsen_r", samples=10)
    with pytest.raises(ConfigError, match=r"^threshold_policy: unknown policy 'best'"):
        M.threshold_estimate(wide, "best")
    with pytest.raises(ConfigError, match=r"^threshold_policy: 'simulated_eps_1e-4' models one module"):
        M.threshold_estimate(StaticArithmeticTask("add"), "simulated_eps_1e-4", samples=10)
    with pytest.raises(ConfigError, match=r"^threshold_policy: the Primer's simulated thresholds"):
        M.threshold_estimate(primer_task("add").__class__("squared"), "simulated_eps_1e-4", samples=10)
    with pytest.raises(ConfigError, match=r"^eps: policy 'simulated_eps_1e-4' fixes"):
        M.threshold_estimate(primer_task("add"), "simulated_eps_1e-4", eps=1e-5)
    with pytest.raises(ConfigError, match=r"^eps: must be in \(0, 1\)"):
        M.threshold_estimate(StaticArithmeticTask("add"), "generator", eps=0.0)
    with pytest.raises(ConfigError, match=r"^samples: must be an integer"):
        M.threshold_estimate(StaticArithmeticTask("add"), "generator", samples=1)


def test_thresholds_are_deterministic_and_cached() -> None:
    t = StaticArithmeticTask("mul", input_size=20)
    a = M.threshold_estimate(t, "generator", samples=5000)
    b = M.threshold_estimate(StaticArithmeticTask("mul", input_size=20), "generator", samples=5000)
    assert a is b
    c = M.threshold_estimate(t, "generator", samples=5000, seed=1)
    assert c.value != a.value and abs(c.value - a.value) < 6 * a.stderr


# ------------------------------------------------------------------------------ selection


def test_select_index_rules() -> None:
    assert M.select_index([3.0, 1.0, 2.0, 1.0]).tolist() == [1]  # first of ties
    assert M.select_index([np.nan, 2.0, np.nan, 1.5]).tolist() == [3]  # NaN ignored
    assert M.select_index([np.nan, np.nan]).tolist() == [1]  # none finite -> last
    assert M.select_index([np.inf, np.nan, np.inf]).tolist() == [2]
    # N = 5001 with the minimum at step 0: step 0 is outside the last-5000 window
    v = np.linspace(2.0, 3.0, 5001)
    v[0] = 0.0
    assert M.select_index(v).tolist() == [1]
    assert M.select_index(v, window=5001).tolist() == [0]
    # shorter series (Primer: 51 points) include step 0
    assert M.select_index(np.r_[0.0, np.ones(50)]).tolist() == [0]


def test_select_index_vectorised_matches_loop() -> None:
    rng = np.random.default_rng(0)
    S, N = 40, 60
    v = rng.random((S, N))
    v[rng.random((S, N)) < 0.2] = np.nan
    v[3] = np.nan
    v[5, 10] = v[5, 20] = -1.0
    lengths = rng.integers(1, N + 1, size=S)
    got = M.select_index(v, window=25, lengths=lengths)
    for s in range(S):
        L = lengths[s]
        lo = L - min(L, 25)
        w = v[s, lo:L]
        finite = np.isfinite(w)
        want = lo + int(np.argmin(np.where(finite, w, np.inf))) if finite.any() else L - 1
        assert got[s] == want


def test_solved_at_strict_and_first() -> None:
    assert M.solved_at_index([5.0, 1.0, 0.5, 0.1], 1.0).tolist() == [2]  # 1.0 is not < 1.0
    assert M.solved_at_index([5.0, np.nan, 2.0], 1.0).tolist() == [-1]
    got = M.solved_at_index([[5.0, 0.5], [0.5, 5.0]], [1.0, 0.1])
    assert got.tolist() == [1, -1]


def test_score_curves_uses_selected_step_for_success() -> None:
    steps = [0, 1000, 2000, 3000]
    interp = [[1.0, 0.5, 0.1, 0.2], [1.0, 0.9, 0.8, 0.7]]
    extrap = [[9.0, 1e-6, 1e-3, 1e-7], [9.0, 8.0, 1e-6, 7.0]]
    sc = M.score_curves(steps, interp, extrap, 1e-5, sparsity_error=[[0.4, 0.3, 0.2, 0.1]] * 2)
    assert sc.selected_step.tolist() == [2000, 3000]
    assert sc.solved.tolist() == [False, False]  # run 0 selected at 2000 (1e-3); run 1 at 3000
    assert sc.solved_at.tolist() == [1000, 2000]  # first under the threshold anywhere
    assert sc.sparsity_error.tolist() == [0.2, 0.1]
    sc2 = M.score_curves(steps, interp, extrap, [1e-2, 1e-5])
    assert sc2.solved.tolist() == [True, False]
    rate, low, high = sc2.success_rate()
    assert rate == 0.5 and (low, high) == M.wilson_interval(1, 2)


def test_score_run_builds_run_result() -> None:
    curve = LearningCurve(step=[0, 1000, 2000], interpolation_mse=[1.0, 0.01, 0.02],
                          extrapolation_mse=[5.0, 1e-9, 1e-8], sparsity_error=[0.5, 0.01, 0.02])
    r = M.score_run(curve, 1e-5, seed=7)
    assert (r.seed, r.solved, r.solved_at, r.selected_step) == (7, True, 1000, 1000)
    assert (r.interpolation_mse, r.extrapolation_mse, r.sparsity_error) == (0.01, 1e-9, 0.01)
    assert r.iterations == 2000 and r.threshold == 1e-5 and r.status == "ok"
    never = LearningCurve(step=[0, 1000], interpolation_mse=[1.0, 2.0], extrapolation_mse=[3.0, 4.0])
    r2 = M.score_run(never, 1e-5, seed=1, status="diverged", diverged_at=1500, iterations=1500)
    assert r2.solved_at is None and not r2.solved and np.isnan(r2.sparsity_error)
    assert r2.to_dict()["diverged_at"] == 1500


def test_mse_per_run() -> None:
    p = torch.zeros(3, 4, 1)
    t = torch.arange(12.0).reshape(3, 4, 1)
    torch.testing.assert_close(M.mse(p, t), (t**2).mean(dim=(1, 2)))


def test_sparsity_error_wrapper() -> None:
    pytest.importorskip("nalm.units.sparsity")
    from nalm.units.sparsity import sparsity_error

    nau = pytest.importorskip("nalm.units.nau").NAU(3, 2)
    torch.testing.assert_close(M.sparsity_error(nau), sparsity_error(nau))


# ------------------------------------------------------------------------------ Trask


def test_trask_normalised_error() -> None:
    assert M.trask_normalised_error(1.0, [2.0, 2.0]) == 50.0
    assert M.trask_normalised_error(3.0, 3.0) == 100.0
    errs = [1.0, 2.0, 3.0, math.inf, math.nan, 1e9]
    assert M.trask_normalised_error(1.0, errs, average="median") == 100.0 / 2.5
    assert M.trask_normalised_error(1.0, errs) == 100.0 / np.mean([1.0, 2.0, 3.0, 1e9])
    assert math.isnan(M.trask_normalised_error(1.0, errs, exclude_nonfinite=False))
    trimmed = M.trask_normalised_error(1.0, list(range(1, 11)) + [1e9], average="trimmed_mean", trim=0.1)
    assert trimmed == 100.0 / np.mean(list(range(2, 11)))


def test_random_baseline_error() -> None:
    task = StaticArithmeticTask("add", input_size=10, subset_ratio=0.2, eval_samples=500)
    state = torch.get_rng_state()
    base = M.random_baseline_error(lambda: nn.Linear(10, 1), task, k=5, seed_start=100)
    assert torch.equal(state, torch.get_rng_state())  # caller's RNG untouched
    assert base.k == 5 and len(base.errors) == 5 and base.excluded == 0
    x, y = task.evaluation_set("extrapolation", [0])
    torch.manual_seed(102)
    m = nn.Linear(10, 1)
    with torch.no_grad():
        e2 = float((m(x[0]).double() - y[0].double()).square().mean())
    assert base.errors[2] == pytest.approx(e2, rel=1e-12)
    assert base.value == pytest.approx(np.mean(base.errors), rel=1e-12)
    again = M.random_baseline_error(lambda: nn.Linear(10, 1), task, k=5, seed_start=100)
    assert again.errors == base.errors
    mae = M.random_baseline_error(lambda: nn.Linear(10, 1), task, k=3, error="mae", average="median")
    assert mae.error == "mae" and mae.value == float(np.median(mae.errors))
