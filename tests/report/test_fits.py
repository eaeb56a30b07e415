"""The papers' fitted means (Madsen & Johansen 2020's R scripts), checked against scipy's own fits and the definition of
a profile-likelihood interval. No per-run published data ship with nalm, so the fitted *published*
numbers cannot be recomputed here; these tests check the method instead."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from nalm.stats import beta_fit_sparsity, gamma_fit_mean, t_interval_mean

DROP = stats.chi2.ppf(0.95, 1) / 2


def gamma_profile_loglik(x: np.ndarray, mu: float) -> float:
    """max over the shape of the Gamma log-likelihood with mean fixed at mu (scipy's logpdf)."""
    res = optimize.minimize_scalar(
        lambda log_a: -stats.gamma.logpdf(x, math.exp(log_a), scale=mu / math.exp(log_a)).sum(),
        bounds=(-10, 15), method="bounded", options={"xatol": 1e-10})
    return -float(res.fun)


def beta_profile_loglik(x: np.ndarray, mu: float) -> float:
    res = optimize.minimize_scalar(
        lambda log_v: -stats.beta.logpdf(x, 2 * mu * math.exp(log_v), (1 - 2 * mu) * math.exp(log_v)).sum(),
        bounds=(math.log(1e-5), 40), method="bounded", options={"xatol": 1e-10})
    return -float(res.fun)


@pytest.mark.parametrize("shape, n", [(0.7, 30), (2.0, 60), (8.0, 100)])
def test_gamma_fit_is_the_mle_with_a_profile_interval(shape: float, n: int) -> None:
    x = np.random.default_rng(int(shape * 10)).gamma(shape, 3e4, size=n)
    est = gamma_fit_mean(x.tolist())
    assert est.method == "gamma-mle" and est.n == n
    a, _, scale = stats.gamma.fit(x, floc=0)
    assert est.mean == pytest.approx(a * scale, rel=1e-4)  # scipy's MLE mean
    assert est.mean == pytest.approx(x.mean(), rel=1e-12)  # ... which is the arithmetic mean
    best = stats.gamma.logpdf(x, a, scale=scale).sum()
    for bound in (est.low, est.high):
        assert best - gamma_profile_loglik(x, bound) == pytest.approx(DROP, abs=2e-3)
    assert est.low < est.mean < est.high
    assert est.high - est.mean > est.mean - est.low  # skewed like the Gamma


def test_gamma_interval_approaches_the_normal_one_for_many_runs() -> None:
    x = np.random.default_rng(5).gamma(4.0, 1e5, size=2000)
    est = gamma_fit_mean(x.tolist())
    half = 1.959964 * x.std(ddof=1) / math.sqrt(x.size)
    assert est.low == pytest.approx(x.mean() - half, rel=5e-3)
    assert est.high == pytest.approx(x.mean() + half, rel=5e-3)


def test_gamma_fallbacks() -> None:
    single = gamma_fit_mean([42000.0])
    assert (single.method, single.mean, single.low, single.high) == ("t-interval", 42000.0, None, None)
    same = gamma_fit_mean([1000.0, 1000.0, 1000.0])
    assert same.method == "t-interval" and same.mean == 1000.0 and same.low == same.high == 1000.0
    with_zero = gamma_fit_mean([0.0, 2000.0, 4000.0])
    expected = stats.t.interval(0.95, 2, loc=2000.0, scale=2000.0 / math.sqrt(3))
    assert with_zero.method == "t-interval" and "≤ 0" in with_zero.note
    assert with_zero.low == 0.0  # clipped at the parameter bound, as the papers' code does
    assert with_zero.high == pytest.approx(expected[1])
    assert gamma_fit_mean([]).method == "none"
    assert gamma_fit_mean([math.nan, 5.0]).n == 1  # non-finite values are not data


@pytest.mark.parametrize("a, b, n", [(2.0, 30.0, 50), (0.6, 8.0, 100), (3.0, 1e5, 25)])
def test_beta_fit_matches_scipy_and_profile_definition(a: float, b: float, n: int) -> None:
    x = np.random.default_rng(n).beta(a, b, size=n) * 0.5
    est = beta_fit_sparsity(x.tolist())
    assert est.method == "beta-mle"
    fa, fb, _, _ = stats.beta.fit(x, floc=0, fscale=1)
    assert 2 * est.mean == pytest.approx(fa / (fa + fb), rel=1e-4)  # the fitted Beta's mean is 2μ
    best = max(beta_profile_loglik(x, est.mean), stats.beta.logpdf(x, fa, fb).sum())
    for bound in (est.low, est.high):
        assert best - beta_profile_loglik(x, bound) == pytest.approx(DROP, abs=2e-3)
    # the papers' μ is about half of the arithmetic mean (Madsen & Johansen 2020's R scripts)
    assert est.mean == pytest.approx(x.mean() / 2, rel=0.1)


def test_beta_fallbacks() -> None:
    single = beta_fit_sparsity([1e-6])
    assert single.method == "t-interval" and single.mean == 1e-6 and single.low is None
    same = beta_fit_sparsity([4.2e-7] * 10)  # sd ≤ 1e-10: the arithmetic mean (cf. NMU × in the paper)
    assert same.method == "t-interval" and same.mean == pytest.approx(4.2e-7)
    wide = beta_fit_sparsity([0.0, 0.0, 0.49])
    assert wide.method in ("t-interval", "beta-mle")
    assert 0.0 <= (wide.low or 0.0) and (wide.high or 0.0) <= 0.5


def test_t_interval_matches_scipy() -> None:
    x = [3.0, 5.0, 9.0, 4.0]
    est = t_interval_mean(x)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(x), scale=stats.sem(x))
    assert (est.mean, est.low, est.high) == (pytest.approx(5.25), pytest.approx(lo), pytest.approx(hi))
