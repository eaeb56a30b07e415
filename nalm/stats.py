"""Torch-free statistics used by metrics, the results store and the report."""

# scipy is imported inside the fitting functions: it takes seconds to load, and only a report's fits need it.

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Two-sided 95% standard-normal quantile, Φ⁻¹(0.975).
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, without continuity correction.

    This is R's ``binom.confint(method="wilson")``, which Madsen & Johansen 2020 report.
    """
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else centre - half  # exact bound; avoids 1e-18 round-off
    high = 1.0 if successes == trials else centre + half
    return low, high


@dataclass(frozen=True)
class SuccessRate:
    """Successes out of trials, with the 95 % Wilson interval of the rate."""

    successes: int
    trials: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.successes / self.trials

    def __str__(self) -> str:
        return (
            f"{self.successes}/{self.trials} = {self.rate:.0%} "
            f"(95% Wilson interval {self.low:.0%}-{self.high:.0%})"
        )


def success_rate(successes: int, trials: int) -> SuccessRate:
    """The rate ``successes / trials`` with its 95 % Wilson interval."""
    low, high = wilson_interval(successes, trials)
    return SuccessRate(int(successes), int(trials), low, high)


# --- Madsen & Johansen's fitted means (their R scripts) -----------------------------------------------------
#
# The papers summarise solved-at by the mean of a maximum-likelihood Gamma fit and the sparsity error by
# the "mean" μ of a Beta fit, each with a profile-likelihood 95 % interval, falling back to a t-interval
# when the data cannot support a fit.

# χ²₁ 0.95 quantile / 2: a profile log-likelihood drop of this much bounds the 95 % interval
_PROFILE_DROP = 1.9207294103470698


@dataclass(frozen=True)
class MeanEstimate:
    """A mean with a 95 % interval and how it was obtained.

    ``method``: ``"gamma-mle"`` / ``"beta-mle"`` (fit with profile-likelihood interval), ``"t-interval"``
    (arithmetic mean ± t·sd/√n, the papers' fallback), or ``"none"`` (no values). ``low``/``high`` are
    ``None`` where no interval exists (a single value).
    """

    mean: float
    low: float | None
    high: float | None
    method: str
    n: int
    note: str = ""


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def t_interval_mean(
    values: Sequence[float], *, lower: float = -math.inf, upper: float = math.inf, note: str = ""
) -> MeanEstimate:
    """Arithmetic mean ± t₀.₉₇₅,ₙ₋₁·sd/√n, clipped to [lower, upper] (R's ``compute.normal.stat``)."""
    from scipy import stats as st

    x = _finite(values)
    n = len(x)
    if n == 0:
        return MeanEstimate(math.nan, None, None, "none", 0, note)
    mean = sum(x) / n
    if n == 1:
        return MeanEstimate(mean, None, None, "t-interval", 1, note)
    sd = statistics.stdev(x)
    half = float(st.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    low = min(upper, max(lower, mean - half))
    high = min(upper, max(lower, mean + half))
    return MeanEstimate(mean, low, high, "t-interval", n, note)


def _profile_bounds(
    profile: Callable[[float], float], best: float, at_best: float, lo: float, hi: float
) -> tuple[float, float]:
    """Where ``profile`` (a negative log-likelihood) rises by _PROFILE_DROP on each side of ``best``.

    ``lo``/``hi`` are the parameter's bounds; a side that never rises enough ends at its bound.
    """
    from scipy.optimize import brentq

    target = at_best + _PROFILE_DROP

    def excess(m: float) -> float:
        return profile(m) - target

    if excess(lo) < 0:
        low = lo
    else:
        low = brentq(excess, lo, best, xtol=abs(best) * 1e-10 + 1e-300, rtol=1e-12)
    if math.isinf(hi):
        step = max(abs(best), 1e-300)
        edge = best + step
        while excess(edge) < 0:
            step *= 2
            edge = best + step
            if edge > 1e300:
                return low, math.inf
        high = brentq(excess, best, edge, xtol=abs(best) * 1e-10 + 1e-300, rtol=1e-12)
    elif excess(hi) < 0:
        high = hi
    else:
        high = brentq(excess, best, hi, xtol=abs(best) * 1e-10 + 1e-300, rtol=1e-12)
    return low, high


def gamma_fit_mean(values: Sequence[float]) -> MeanEstimate:
    """Mean of a maximum-likelihood Gamma fit with its profile-likelihood 95 % interval (solved-at).

    The Gamma is parameterised by mean μ and variance σ² (σ² ≥ 1e-5), as in the papers. The MLE of a
    Gamma mean is exactly the arithmetic mean, so ``mean`` equals it; the fit contributes the skewed
    interval. Published fitted means can differ from the arithmetic mean because the papers' optimiser
    stopped early; this function returns the true optimum. Falls back to the
    t-interval for fewer than two values, sd ≤ 1e-5, or any value ≤ 0 (a Gamma likelihood is degenerate
    at 0, e.g. a run solved at step 0).
    """
    from scipy.optimize import brentq
    from scipy.special import digamma, gammaln

    x = _finite(values)
    n = len(x)
    if n < 2 or statistics.stdev(x) <= 1e-5:
        return t_interval_mean(x, lower=0.0)
    if min(x) <= 0:
        return t_interval_mean(x, lower=0.0, note="values ≤ 0: no Gamma fit")
    mean_x = sum(x) / n
    mean_log = sum(math.log(v) for v in x) / n

    def best_shape(mu: float) -> float:
        # d/dα of the log-likelihood at fixed μ vanishes where log α − ψ(α) = c(μ); the left side
        # falls monotonically from +∞ to 0, and c(μ) > 0, so the root is unique
        c = math.log(mu) - 1.0 - mean_log + mean_x / mu
        cap = mu * mu / 1e-5  # σ² = μ²/α ≥ 1e-5
        def g(log_a: float) -> float:
            return log_a - float(digamma(math.exp(log_a))) - c

        lo, hi = -50.0, 1.0
        while g(hi) > 0:
            hi *= 2
            if hi > 700:
                return cap
        return min(cap, math.exp(brentq(g, lo, hi, xtol=1e-12)))

    def nll(mu: float, a: float) -> float:
        return -n * (a * math.log(a / mu) - float(gammaln(a)) + (a - 1) * mean_log - a * mean_x / mu)

    def profile(mu: float) -> float:
        return nll(mu, best_shape(mu))

    best = mean_x
    at_best = profile(best)
    low, high = _profile_bounds(profile, best, at_best, mean_x * 1e-12, math.inf)
    return MeanEstimate(best, low, high, "gamma-mle", n)


_BETA_CLAMP = 1e-16
_BETA_LOGPDF_CLIP = 1e6


def beta_fit_sparsity(values: Sequence[float]) -> MeanEstimate:
    """The papers' Beta-fit "mean" μ of sparsity errors with its profile-likelihood 95 % interval.

    As in the papers' R code: values are clamped into [1e-16, 0.5 − 1e-16] and a Beta(2μv, (1 − 2μ)v)
    likelihood (per-value log-density clipped to ±1e6) is maximised over μ ∈ [0, 0.5], v ≥ 1e-5. The
    density is not rescaled to [0, 0.5], so the fitted Beta's mean is 2μ and μ is roughly **half** the
    arithmetic mean; report it labelled as the papers' quantity. Falls back to the t-interval (clipped to
    [0, 0.5]) for fewer than two values, sd ≤ 1e-10, or an optimum on the μ boundary (where the papers'
    code finds no standard error).
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import betaln, xlog1py, xlogy

    raw = _finite(values)
    n = len(raw)
    x = [min(0.5 - _BETA_CLAMP, max(_BETA_CLAMP, v)) for v in raw]
    if n < 2 or statistics.stdev(x) <= 1e-10:
        # R averages the clamped values here; the raw ones differ by ≤ 1e-16 and print 0 as 0
        return t_interval_mean(raw, lower=0.0, upper=0.5)
    xs = np.asarray(x)
    log_v_lo, log_v_hi = math.log(1e-5), 60.0

    def nll(mu: float, log_v: float) -> float:
        v = math.exp(log_v)
        a, b = 2 * mu * v, (1 - 2 * mu) * v
        if a <= 0 or b <= 0:
            return n * _BETA_LOGPDF_CLIP
        logpdf = xlogy(a - 1, xs) + xlog1py(b - 1, -xs) - betaln(a, b)
        return float(-np.sum(np.clip(logpdf, -_BETA_LOGPDF_CLIP, _BETA_LOGPDF_CLIP)))

    def profile(mu: float) -> float:
        # for fixed μ the log-likelihood is concave in v (an exponential family along a ray), hence
        # unimodal in log v: a bounded Brent search finds the one optimum
        res = minimize_scalar(lambda lv: nll(mu, lv), bounds=(log_v_lo, log_v_hi), method="bounded",
                              options={"xatol": 1e-9})
        return float(res.fun)

    # The fitted Beta's mean 2μ is near the sample mean, so μ̂ is searched on a log scale around
    # mean/2 (sparsity errors span 1e-8 … 0.5; a linear search on [0, 0.5] cannot resolve 1e-7).
    centre = math.log(float(np.mean(xs)) / 2)
    lo, hi = centre - 12.0, min(math.log(0.5), centre + 12.0)
    res = minimize_scalar(lambda lm: profile(math.exp(lm)), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-10})
    mu_hat, at_best = math.exp(float(res.x)), float(res.fun)
    if float(res.x) - lo < 1e-6 or hi - float(res.x) < 1e-6:
        return t_interval_mean(raw, lower=0.0, upper=0.5, note="Beta fit on the boundary")
    low, high = _profile_bounds(profile, mu_hat, at_best, 1e-300, 0.5 - 1e-300)
    return MeanEstimate(mu_hat, low, high, "beta-mle", n)
