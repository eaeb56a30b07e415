"""Input ranges of the tasks: validation and normalisation, formatting, exact sums over a range, and
whether a range (and a target computed from it) is representable in a floating-point dtype.

A range is ``(lo, hi)``, or a union ``((lo0, hi0), (lo1, hi1))`` of two ranges of equal width (the
reference's rule: an element-wise fair coin picks the member). Normalised, it is a :data:`RangeSpec`:
a tuple of one or two ``(lo, hi)`` float pairs.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from nalm.errors import ConfigError

Interval = tuple[float, float]
RangeSpec = tuple[Interval, ...]


def _as_float(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{field_name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{field_name}: bounds must be finite, got {value!r}")
    return v


def _fmt(v: float) -> str:
    return f"{v:g}"


def format_range(spec: RangeSpec) -> str:
    """``U[1,2]`` or ``U[-6,-2] ∪ U[2,6]``."""
    return " ∪ ".join(f"U[{_fmt(lo)},{_fmt(hi)}]" for lo, hi in spec)


def ranges_as_lists(task: Any) -> dict[str, Any]:
    """``dataclasses.asdict(task)`` with its two range specs as JSON lists (a task's ``to_dict``)."""
    from dataclasses import asdict

    d = asdict(task)
    for key in ("interpolation_range", "extrapolation_range"):
        d[key] = [list(r) for r in getattr(task, key)]
    return d


def normalize_range(value: Any, field_name: str) -> RangeSpec:
    """Validate a range and return it as a tuple of ``(lo, hi)`` float pairs (one pair, or two).

    Accepts ``(lo, hi)`` or a union ``((lo0, hi0), (lo1, hi1))`` of two ranges of equal width (the
    reference's rule), sampled element-wise with a fair coin. Raises :class:`ConfigError` naming
    ``field_name`` for anything else: empty or reversed ranges, non-finite bounds, unequal widths,
    overlapping union members, more than two members.
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or len(value) == 0:
        raise ConfigError(
            f"{field_name}: expected (lo, hi) or a union ((lo, hi), (lo, hi)), got {value!r}"
        )
    if all(not isinstance(v, (tuple, list)) for v in value):
        members: list[Any] = [value]
    elif all(isinstance(v, (tuple, list)) for v in value):
        members = list(value)
    else:
        raise ConfigError(f"{field_name}: mixes numbers and ranges: {value!r}")
    if len(members) > 2:
        raise ConfigError(
            f"{field_name}: a union may have at most 2 ranges (as in the reference), got {len(members)}"
        )
    out: list[Interval] = []
    for m in members:
        if len(m) != 2:
            raise ConfigError(f"{field_name}: a range needs exactly two bounds (lo, hi), got {m!r}")
        lo, hi = _as_float(m[0], field_name), _as_float(m[1], field_name)
        if lo == hi:
            raise ConfigError(f"{field_name}: empty range [{_fmt(lo)}, {_fmt(hi)}]")
        if lo > hi:
            raise ConfigError(
                f"{field_name}: reversed range [{_fmt(lo)}, {_fmt(hi)}] (lo must be below hi)"
            )
        out.append((lo, hi))
    if len(out) == 2:
        (lo0, hi0), (lo1, hi1) = out
        w0, w1 = hi0 - lo0, hi1 - lo1
        if not math.isclose(w0, w1, rel_tol=1e-9, abs_tol=0.0):
            raise ConfigError(
                f"{field_name}: union ranges must have equal widths (the coin picks a range with "
                f"probability 1/2), got widths {_fmt(w0)} and {_fmt(w1)}"
            )
        if max(lo0, lo1) < min(hi0, hi1):
            raise ConfigError(
                f"{field_name}: union ranges overlap: {format_range(tuple(out))}"
            )
    return tuple(out)


def sum_intervals(spec: RangeSpec, m: int) -> list[tuple[Fraction, Fraction]]:
    """Closed intervals whose union is the set of sums of ``m`` inputs drawn from ``spec`` (exact)."""
    fr = [(Fraction(lo), Fraction(hi)) for lo, hi in spec]
    if len(fr) == 1:
        (lo, hi), = fr
        return [(m * lo, m * hi)]
    (lo0, hi0), (lo1, hi1) = fr
    return [(c * lo0 + (m - c) * lo1, c * hi0 + (m - c) * hi1) for c in range(m + 1)]


def format_fraction(v: Fraction) -> str:
    """An exact bound written as :func:`format_range` writes a float one (any magnitude)."""
    try:
        return _fmt(float(v))
    except OverflowError:  # beyond float64: three significant digits from the exact value
        digits = len(str(abs(v.numerator) // v.denominator)) - 1
        mantissa = v / Fraction(10) ** digits
        return f"{float(mantissa):.3g}e+{digits}"


def sum_magnitude(spec: RangeSpec, m: int) -> tuple[Fraction, Fraction]:
    """``(smallest, largest)`` absolute value a sum of ``m`` inputs from ``spec`` can take (exact;
    the smallest is 0 when some sum can be 0)."""
    intervals = sum_intervals(spec, m)
    largest = max(max(abs(lo), abs(hi)) for lo, hi in intervals)
    if any(lo <= 0 <= hi for lo, hi in intervals):
        return Fraction(0), largest
    return min(min(abs(lo), abs(hi)) for lo, hi in intervals), largest


#: ``(largest finite, smallest normal)`` of the floating-point dtypes a run can use, by name.
_LIMITS: dict[str, tuple[float, float]] = {
    name: (float(np.finfo(name).max), float(np.finfo(name).tiny))
    for name in ("float16", "float32", "float64")
}
_LIMITS["bfloat16"] = (3.3895313892515355e38, 1.1754943508222875e-38)  # not a NumPy dtype


def dtype_limits(dtype: Any) -> tuple[str, float, float]:
    """``(name, largest finite, smallest normal)`` of a dtype given as ``"float32"``, a NumPy dtype
    or a torch dtype (its ``str`` is ``"torch.float32"``: no torch import needed)."""
    name = getattr(dtype, "__name__", None) or str(dtype).removeprefix("torch.")  # np.float32: a class
    if name not in _LIMITS:
        raise ConfigError(f"dtype: expected one of {', '.join(_LIMITS)}, got {dtype!r}")
    return (name, *_LIMITS[name])


def check_representable(spec: RangeSpec, field_name: str, dtype: Any) -> None:
    """:class:`ConfigError` unless every bound of ``spec`` is 0 or a normal finite number of ``dtype``:
    inputs beyond the largest would be infinite, inputs all below the smallest normal are denormal
    (slow, and with a few bits of precision) or flushed to zero."""
    name, largest, smallest = dtype_limits(dtype)
    for lo, hi in spec:
        for bound in (lo, hi):
            if abs(bound) > largest:
                raise ConfigError(
                    f"{field_name}: bound {_fmt(bound)} of {format_range(spec)} is beyond {name}'s "
                    f"largest number ({largest:.2g})"
                )
            if 0 < abs(bound) < smallest:
                raise ConfigError(
                    f"{field_name}: bound {_fmt(bound)} of {format_range(spec)} is below {name}'s "
                    f"smallest normal number ({smallest:.2g}); inputs would be denormal"
                )


def check_loss_scale(target_bound: Fraction | None, what: str, field_name: str, dtype: Any) -> None:
    """:class:`ConfigError` unless a squared error at the target's scale, ``target_bound²``, is a
    normal finite number of ``dtype``: above it the training loss overflows at the first step, below
    it every prediction scores an error of 0. ``target_bound`` is the largest ``|target|``; None for
    an unbounded target (not checked: the task accepted it on purpose)."""
    if target_bound is None or target_bound == 0:
        return
    name, largest, smallest = dtype_limits(dtype)
    square = target_bound * target_bound
    hint = "use smaller ranges" + (" or dtype float64" if name != "float64" else "")
    if square > Fraction(largest):
        raise ConfigError(
            f"{field_name}: {what} reaches {format_fraction(target_bound)}; its square, the scale of "
            f"the loss, overflows {name} (largest {largest:.2g}); {hint}"
        )
    if square < Fraction(smallest):
        raise ConfigError(
            f"{field_name}: {what} is at most {format_fraction(target_bound)}; its square, the scale "
            f"of the loss, is below {name}'s smallest normal number ({smallest:.2g}), so every "
            "prediction would score the same; use larger ranges"
        )
