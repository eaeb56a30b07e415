"""Every unit kind, weights set by hand, reads out as the formula those weights compute."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nalm
from nalm.formula import explain, readout_for
from nalm.formula.snap import (
    snap_gate,
    snap_to_fractions,
    snap_to_integers,
    snap_to_set,
)
from nalm.units import available_units, unit_class

from .helpers import BIG, POSITIVE, nac_raw, set_params, unit

LN_PHI = math.log((1 + math.sqrt(5)) / 2)


def test_every_registered_unit_has_a_readout() -> None:
    missing = [name for name in available_units() if readout_for(unit_class(name)) is None]
    assert not missing


# (unit, in, options, parameters, inputs for gates and signs or None, expected formula)
CASES = [
    ("nau", 3, {}, {"W": [[1, 1, 0]]}, None, "x0 + x1"),
    ("nau", 3, {}, {"W": [[1, -1, 0]]}, None, "x0 - x1"),
    ("nac", 3, {}, nac_raw([[1, -1, 0]]), None, "x0 - x1"),
    ("nmu", 3, {}, {"W": [[1, 0, 1]]}, None, "x0*x2"),
    ("snmu", 3, {}, {"W": [[0, 1, 1]]}, None, "x1*x2"),
    ("nac_mul", 2, {}, nac_raw([[1, -1]]), None, "Abs(x0)/Abs(x1)"),
    ("nac_mul", 2, {}, nac_raw([[1, -1]]), POSITIVE[:, :2], "x0/x1"),
    ("nac_mul_sigma", 2, {}, {"W_hat": [[BIG, -BIG]]}, None, "Abs(x0)"),
    ("nac_mul_nmu", 2, {}, {"W": [[1, 1]]}, None, "Abs(x0)*Abs(x1)"),
    ("nru", 2, {}, {"W": [[1, -1]]}, None, "x0/x1"),
    ("nru", 2, {"sep_sign": True}, {"W": [[-1, 0]]}, None, "1/x0"),
    ("nmru", 2, {}, {"W": [[1, 0, 0, 1]]}, None, "x0/x1"),
    ("nmru", 2, {"sign_retrieval": False}, {"W": [[0, 1, 1, 0]]}, None, "x1/x0"),
    ("nmru", 2, {}, {"W": [[1, 0, 1, 0]]}, None, "1"),  # x0 · 1/x0
    ("nalu", 2, {}, {**nac_raw([[1, 1]]), "G": [[BIG, BIG]]}, POSITIVE[:, :2], "x0 + x1"),
    ("nalu", 2, {}, {**nac_raw([[1, 1]]), "G": [[-BIG, -BIG]]}, POSITIVE[:, :2], "x0*x1"),
    ("nalu", 2, {}, {**nac_raw([[1, -1]]), "G": [[-BIG, -BIG]]}, None, "Abs(x0)/Abs(x1)"),
    ("gnalu", 2, {}, {**nac_raw([[1, 1]], 2 * BIG), "G": [[BIG, BIG]]}, POSITIVE[:, :2], "x0 + x1"),
    ("inalu", 2, {}, {"W_a_hat": [[BIG, BIG]], "M_a_hat": [[BIG, BIG]], "g": [BIG]}, None, "x0 + x1"),
    # iNALU's multiplicative path keeps the sign: x0·x1 even on real (signed) inputs
    ("inalu", 2, {}, {"W_m_hat": [[BIG, BIG]], "M_m_hat": [[BIG, BIG]], "g": [-BIG]}, None, "x0*x1"),
    ("gated_nau_nmu", 2, {}, {"W_add": [[1, -1]], "W_mul": [[0.3, 0.6]], "G": [[BIG, BIG]]},
     POSITIVE[:, :2], "x0 - x1"),
    ("gated_nau_nmu", 2, {}, {"W_add": [[0.3, 0.6]], "W_mul": [[1, 1]], "G": [[-BIG, -BIG]]},
     POSITIVE[:, :2], "x0*x1"),
    ("npu", 2, {}, {"W_re": [[1, -1]], "W_im": [[0, 0]], "g": [1, 1]}, None, "x0/x1"),
    ("npu", 2, {}, {"W_re": [[0.5, 3]], "W_im": [[0, 0]], "g": [1, 0]}, POSITIVE[:, :2], "sqrt(x0)"),
    ("real_npu", 2, {}, {"W_re": [[2, 1]], "g": [1, 1]}, None, "x0**2*x1"),
    ("real_npu", 2, {}, {"W_re": [[-0.5, 0]], "g": [1, 1]}, POSITIVE[:, :2], "1/sqrt(x0)"),
    ("naive_npu", 2, {}, {"W_re": [[1, 1]], "W_im": [[0, 0]]}, None, "x0*x1"),
    ("linear", 2, {}, {"weight": [[1, 1]], "bias": [0]}, None, "x0 + x1"),
    ("linear", 2, {}, {"weight": [[2, -1]], "bias": [3]}, None, "2*x0 - x1 + 3"),
    ("relu", 2, {}, {"weight": [[1, 1]], "bias": [0]}, POSITIVE[:, :2], "x0 + x1"),
    ("relu", 2, {}, {"weight": [[1, -1]], "bias": [0]}, None, "Max(0, x0 - x1)"),
    ("relu6", 2, {}, {"weight": [[1, 0]], "bias": [0]}, POSITIVE[:, :2], "Min(6, x0)"),
]


@pytest.mark.parametrize("name, n, options, params, inputs, formula", CASES,
                         ids=[f"{c[0]}-{c[-1]}" for c in CASES])
def test_hand_set_weights_give_their_formula(name, n, options, params, inputs, formula) -> None:
    u = set_params(unit(name, n, **options), **params)
    e = explain(u, inputs=inputs)
    assert e.outcome == "exact", e.reason
    assert e.formula == formula
    assert e.max_snap_distance < 1e-3  # gates on the default probe rows: σ(−20·0.4)


def test_the_formula_computes_what_the_unit_computes() -> None:
    """Guards the table above against formulas that merely look right: each snapped unit's output
    on positive rows equals its formula (to the units' ε guards)."""
    import sympy

    for name, n, options, params, inputs, _ in CASES:
        u = set_params(unit(name, n, **options), **params)
        e = explain(u, inputs=POSITIVE[:, :n])
        x = POSITIVE[:, :n]
        f = sympy.lambdify([sympy.Symbol(f"x{i}", positive=True) for i in range(n)], e.expressions[0])
        want = np.broadcast_to(np.asarray(f(*x.T), dtype=np.float64), (len(x),))
        with torch.no_grad():
            got = u.double()(torch.from_numpy(x))[:, 0].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=name)


def test_nalu_gate_at_one_half_is_not_snappable_and_says_why() -> None:
    nalu = set_params(unit("nalu", 2), **nac_raw([[1, 1]]), G=[[0, 0]])
    e = explain(nalu, inputs=POSITIVE[:, :2])
    assert e.outcome == "not_snappable" and e.formula is None
    assert "gate 0.5" in e.reason and "layer 1 (nalu)" in e.reason
    assert e.max_snap_distance == pytest.approx(0.5)


def test_nalu_gate_that_moves_with_the_input_is_not_snappable() -> None:
    nalu = set_params(unit("nalu", 2), **nac_raw([[1, 1]]), G=[[1, -1]])
    e = explain(nalu, inputs=POSITIVE[:, :2])
    assert e.outcome == "not_snappable" and "gate between" in e.reason


def test_a_path_the_gate_switches_off_does_not_count() -> None:
    """Separate weights: with the gate at 0 the additive weights are irrelevant, snappable or not."""
    nalu = set_params(unit("nalu", 2, shared_weights=False), W_hat=[[0.3, 0.2]], M_hat=[[0.0, 0.0]],
                      W_hat_mul=[[BIG, BIG]], M_hat_mul=[[BIG, BIG]], G=[[-BIG, -BIG]])
    e = explain(nalu, inputs=POSITIVE[:, :2])
    assert e.outcome == "exact" and e.formula == "x0*x1"


def test_npu_half_open_gate_and_imaginary_weight_are_not_snappable() -> None:
    gated = set_params(unit("real_npu", 2), W_re=[[1, 1]], g=[1, 0.5])
    e = explain(gated)
    assert e.outcome == "not_snappable" and "gate g[1] = 0.5" in e.reason
    imaginary = set_params(unit("npu", 2), W_re=[[1, 1]], W_im=[[0.3, 0]], g=[1, 1])
    e = explain(imaginary)
    assert e.outcome == "not_snappable" and "W_im[0][0] = 0.3" in e.reason


def test_npu_fractional_power_of_a_signed_input_keeps_the_real_part() -> None:
    npu = set_params(unit("real_npu", 1), W_re=[[0.5]], g=[1])
    e = explain(npu)  # no task: the input's sign is unknown
    x = np.array([[4.0], [-4.0], [9.0]])
    import sympy

    f = sympy.lambdify([sympy.Symbol("x0", real=True)], e.expressions[0])
    with torch.no_grad():
        got = npu.double()(torch.from_numpy(x))[:, 0].numpy()
    np.testing.assert_allclose(f(x[:, 0]), got, atol=1e-6)  # √−4 → 0, the unit's real part


def test_noisy_weights_near_a_solution_snap_to_it() -> None:
    rng = np.random.default_rng(7)
    exact = np.array([[1.0, 0.0, 1.0, 0.0]])
    noisy = exact + rng.uniform(-0.02, 0.02, size=exact.shape)
    nmu = set_params(unit("nmu", 4), W=noisy.tolist())
    e = explain(nmu)
    assert e.formula == "x0*x2"
    assert e.max_snap_distance == pytest.approx(np.abs(noisy - exact).max(), rel=1e-6)


def test_a_weight_far_from_every_exact_value_is_named() -> None:
    nmu = set_params(unit("nmu", 3), W=[[1, 0.3, 1]])
    e = explain(nmu)
    assert e.outcome == "not_snappable"
    assert "W[0][1] = 0.3 is 0.3 from the nearest of {0, 1}" in e.reason
    assert explain(nmu, tolerance=0.31).formula == "x0*x2"  # the tolerance is the caller's


def test_snapping_helpers() -> None:
    s = snap_to_set(np.array([0.97, -0.04, 0.5, np.nan]), (-1, 0, 1), 0.05, "{−1, 0, 1}")
    assert s.numerator.tolist()[:2] == [1, 0] and s.ok.tolist() == [True, True, False, False]
    assert math.isinf(s.distance[3])
    f = snap_to_fractions(np.array([0.49, -1.02, 0.34, 2.0]), 2, 0.05)
    assert [(int(a), int(b)) for a, b in zip(f.numerator, f.denominator)] == [(1, 2), (-1, 1), (1, 2), (2, 1)]
    assert f.ok.tolist() == [True, True, False, True]
    assert snap_to_integers(np.array([2.96]), 0.05).numerator.tolist() == [3]
    assert snap_gate(np.array([0.99, 0.999]), 0.05)[0] == 1
    assert snap_gate(np.array([0.01, 0.6]), 0.05)[0] is None
    assert snap_gate(np.array([np.nan]), 0.05)[0] is None


def test_golden_ratio_scale_is_the_units_own() -> None:
    """G-NALU's weights act c = ln φ times as strongly: raw 20 is a weight of tanh(9.6)·σ(9.6),
    within the tolerance of 1, raw 2 is not; the read-out uses the unit's own weight."""
    assert math.tanh(LN_PHI * 2) < 0.95
    weak = set_params(unit("gnalu", 2), W_hat=[[2.0, 2.0]], M_hat=[[BIG, BIG]], G=[[BIG, BIG]])
    assert explain(weak, inputs=POSITIVE[:, :2]).outcome == "not_snappable"


def test_stacked_unit_gives_one_result_per_run() -> None:
    from nalm.training import stack_modules

    runs = [set_params(unit("nmu", 3), W=w) for w in ([[1, 1, 0]], [[0, 1, 1]], [[1, 0.5, 1]])]
    results = explain(stack_modules(runs))
    assert [r.formula for r in results] == ["x0*x1", "x1*x2", None]
    assert [r.run for r in results] == [0, 1, 2]


def test_bad_models_are_config_errors() -> None:
    with pytest.raises(nalm.ConfigError, match="not a nalm unit"):
        explain(torch.nn.Sequential(unit("nau", 2, 1), torch.nn.ReLU()))
    with pytest.raises(nalm.ConfigError, match="tolerance"):
        explain(unit("nau", 2), tolerance=-1)
    with pytest.raises(nalm.ConfigError, match="inputs"):
        explain(unit("nau", 2), inputs=np.zeros((3, 5)))
