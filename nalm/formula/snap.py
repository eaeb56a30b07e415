"""Snapping learned numbers to a unit's exact set (numpy only).

Every exact set here is a set of rationals: a finite set ({−1, 0, 1}, {0, 1}), the integers, or the
multiples of 1/k for k up to a small denominator (the NPU's exponents). A value *snaps* when its
nearest exact value lies within the tolerance; :class:`Snap` keeps the exact value as a numerator and a
denominator, so that the formula gets ``1/2``, never ``0.5000001``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

#: Default largest distance between a learned weight (or gate) and the exact value it snaps to.
#: A solved run's weights lie far closer (the success thresholds correspond to relative
#: perturbations of 1e-5); 0.05 is loose enough to read the formula of a nearly converged run and
#: tight enough that the nearest exact value is never in doubt for the sets used here (their
#: spacing is at least 1/2).
DEFAULT_TOLERANCE = 0.05

#: Default largest denominator of an NPU exponent: multiples of 1/2 (integer powers and square roots).
DEFAULT_MAX_DENOMINATOR = 2


@dataclass(frozen=True)
class Snap:
    """Elementwise snap of an array: ``numerator / denominator`` is the exact value, ``distance`` the
    learned value's distance to it, ``ok`` whether that distance is within the tolerance."""

    numerator: np.ndarray  # int64
    denominator: np.ndarray  # int64, ≥ 1
    distance: np.ndarray  # float64
    ok: np.ndarray  # bool
    learned: np.ndarray  # float64, the values that were snapped
    set_name: str  # the exact set in words, for reasons ("{−1, 0, 1}", "integers")

    def fraction(self, index: tuple[int, ...] | int) -> Fraction:
        return Fraction(int(self.numerator[index]), int(self.denominator[index]))

    def is_zero(self, index: tuple[int, ...] | int) -> bool:
        return int(self.numerator[index]) == 0

    def value(self) -> np.ndarray:
        """The exact values as float64."""
        return self.numerator / self.denominator

    def failure(self, index: tuple[int, ...] | int, name: str, tolerance: float) -> str:
        """Why element ``index`` (of the weight called ``name``) does not snap."""
        where = name + "".join(f"[{i}]" for i in np.atleast_1d(index))
        return (
            f"{where} = {self.learned[index]:.4g} is {self.distance[index]:.2g} from the nearest of "
            f"{self.set_name} ({format_fraction(self.fraction(index))}), beyond the tolerance {tolerance:g}"
        )


def format_fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _finite(values: np.ndarray) -> np.ndarray:
    # A non-finite weight snaps to nothing: its distance is infinite.
    return np.where(np.isfinite(values), values, np.nan)


def snap_to_set(values: np.ndarray, allowed: Sequence[int], tolerance: float, set_name: str) -> Snap:
    """Snap to the nearest of a finite set of integers (first of equally near ones)."""
    v = _finite(np.asarray(values, dtype=np.float64))
    choices = np.asarray(allowed, dtype=np.float64)
    gaps = np.abs(v[..., None] - choices)
    nearest = np.nanargmin(np.where(np.isnan(gaps), np.inf, gaps), axis=-1)
    numerator = np.asarray(allowed, dtype=np.int64)[nearest]
    distance = np.where(np.isnan(v), np.inf, np.abs(v - numerator))
    return Snap(numerator, np.ones_like(numerator), distance, distance <= tolerance, v, set_name)


def snap_to_integers(values: np.ndarray, tolerance: float) -> Snap:
    """Snap to the nearest integer."""
    v = _finite(np.asarray(values, dtype=np.float64))
    rounded = np.rint(np.nan_to_num(v))
    distance = np.where(np.isnan(v), np.inf, np.abs(v - rounded))
    numerator = rounded.astype(np.int64)
    return Snap(numerator, np.ones_like(numerator), distance, distance <= tolerance, v, "the integers")


def snap_to_fractions(values: np.ndarray, max_denominator: int, tolerance: float) -> Snap:
    """Snap to the nearest multiple of 1/k, k = 1 … ``max_denominator`` (smallest k among equally near)."""
    if max_denominator < 1:
        raise ValueError(f"max_denominator must be at least 1, got {max_denominator}")
    v = _finite(np.asarray(values, dtype=np.float64))
    clean = np.nan_to_num(v)
    best_num = np.rint(clean)
    best_den = np.ones_like(clean)
    best_gap = np.abs(clean - best_num)
    for k in range(2, max_denominator + 1):
        num = np.rint(clean * k)
        gap = np.abs(clean - num / k)
        better = gap < best_gap - 1e-15
        best_num, best_den, best_gap = (np.where(better, num, best_num), np.where(better, k, best_den),
                                        np.where(better, gap, best_gap))
    # Reduce (2/2 -> 1/1): the smallest k wins ties, but a multiple of a smaller 1/k never beats it.
    numerator, denominator = best_num.astype(np.int64), best_den.astype(np.int64)
    common = np.gcd(numerator, denominator)
    numerator, denominator = numerator // common, denominator // common
    distance = np.where(np.isnan(v), np.inf, best_gap)
    set_name = "the integers" if max_denominator == 1 else f"the multiples of 1/k, k ≤ {max_denominator}"
    return Snap(numerator, denominator, distance, distance <= tolerance, v, set_name)


def snap_gate(values: np.ndarray, tolerance: float) -> tuple[int | None, float, str]:
    """One gate's values over probe rows (or a single value) snapped to 0 or 1.

    Returns ``(state, distance, description)``: ``state`` is 1 when every value is within the tolerance
    of 1, 0 when every value is within it of 0, else None; ``distance`` the largest distance to that
    state (to the nearer state when None); ``description`` the values' range in words.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        return None, float("inf"), "non-finite"
    low, high = float(v.min()), float(v.max())
    text = f"{low:.3g}" if low == high else f"between {low:.3g} and {high:.3g}"
    to_one, to_zero = 1.0 - low, high
    if to_one <= tolerance:
        return 1, to_one, text
    if to_zero <= tolerance:
        return 0, to_zero, text
    return None, min(to_one, to_zero), text
