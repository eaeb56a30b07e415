"""Named task configurations of the published benchmarks.

* Madsen & Johansen, "Neural Arithmetic Units", ICLR 2020 (arXiv:2001.05016): the default static
  task (100 inputs, subset 0.25, overlap 0.5, U[1,2] → U[2,6]) and the 4-input introduction task.
* Mistry, Farrahi & Hare, "A Primer for Neural Arithmetic Logic Modules", JMLR 2022: the nine
  interpolation → extrapolation range pairs of the single-module benchmark, and its 2-, 10- and
  100-input variants (one-element operands; 8 or 98 distractor inputs in the redundant variants).

Preset names encode the training range, ``neg`` for a minus sign (``"neg1.2_neg1.1"`` is
U[−1.2, −1.1]); they are stable identifiers for suites and result stores.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from nalm.errors import ConfigError

from .ops import PRIMER_OPS
from .ranges import RangeSpec
from .static import SingleModuleTask, StaticArithmeticTask


class RangePair(NamedTuple):
    """One Primer range pair: training/validation range and test range (a union for pair 5)."""

    index: int  # 1..9, the order of the Primer's table
    interpolation: RangeSpec
    extrapolation: RangeSpec


#: The nine range pairs of the Primer's single-module benchmark, in the paper's order.
PRIMER_RANGES: dict[str, RangePair] = {
    "neg20_neg10": RangePair(1, ((-20.0, -10.0),), ((-40.0, -20.0),)),
    "neg2_neg1": RangePair(2, ((-2.0, -1.0),), ((-6.0, -2.0),)),
    "neg1.2_neg1.1": RangePair(3, ((-1.2, -1.1),), ((-6.1, -1.2),)),
    "neg0.2_neg0.1": RangePair(4, ((-0.2, -0.1),), ((-2.0, -0.2),)),
    "neg2_2": RangePair(5, ((-2.0, 2.0),), ((-6.0, -2.0), (2.0, 6.0))),
    "0.1_0.2": RangePair(6, ((0.1, 0.2),), ((0.2, 2.0),)),
    "1_2": RangePair(7, ((1.0, 2.0),), ((2.0, 6.0),)),
    "1.1_1.2": RangePair(8, ((1.1, 1.2),), ((1.2, 6.0),)),
    "10_20": RangePair(9, ((10.0, 20.0),), ((20.0, 40.0),)),
}

#: Subset ratio giving one-element operands for each Primer input size.
PRIMER_SUBSET_RATIOS: dict[int, float] = {2: 0.5, 10: 0.1, 100: 0.01}



def primer_range(name: str) -> RangePair:
    try:
        return PRIMER_RANGES[name]
    except KeyError:
        raise ConfigError(
            f"preset: unknown range pair {name!r}; expected one of {', '.join(PRIMER_RANGES)}"
        ) from None


def primer_task(op: str, ranges: str = "1_2", input_size: int = 2, **overrides: Any) -> SingleModuleTask:
    """The Primer's single-module task for ``op`` on a named range pair (2, 10 or 100 inputs).

    Division on pair ``"neg2_2"`` (denominator range crossing 0) was run by the Primer; it needs
    ``allow_zero_denominator=True``, which this function passes for that case.
    """
    pair = primer_range(ranges)
    if input_size not in PRIMER_SUBSET_RATIOS:
        raise ConfigError(
            f"input_size: the Primer uses 2, 10 or 100 inputs, got {input_size!r}"
        )
    kwargs: dict[str, Any] = {
        "input_size": input_size,
        "subset_ratio": PRIMER_SUBSET_RATIOS[input_size],
        "overlap_ratio": 0.0,
        "interpolation_range": pair.interpolation,
        "extrapolation_range": pair.extrapolation,
    }
    if op == "div" and ranges == "neg2_2":
        kwargs["allow_zero_denominator"] = True
    kwargs.update(overrides)
    return SingleModuleTask(op, **kwargs)


def madsen_task(op: str, **overrides: Any) -> StaticArithmeticTask:
    """Madsen & Johansen's default static task (100 inputs, 0.25, 0.5, U[1,2] → U[2,6])."""
    return StaticArithmeticTask(op, **overrides)


def madsen_simple_task(op: str, **overrides: Any) -> StaticArithmeticTask:
    """The 4-input introduction task: ``a = x[0:4]``, ``b = x[0:2]`` (no offset)."""
    return StaticArithmeticTask(op, input_size=4, simple=True, **overrides)


__all__ = [
    "PRIMER_OPS",
    "PRIMER_RANGES",
    "PRIMER_SUBSET_RATIOS",
    "RangePair",
    "madsen_simple_task",
    "madsen_task",
    "primer_range",
    "primer_task",
]
