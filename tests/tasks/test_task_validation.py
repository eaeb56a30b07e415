"""Every invalid task configuration is rejected at construction with a message naming the field."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.errors import ConfigError
from nalm.tasks import SingleModuleTask, StaticArithmeticTask

CASES = [
    # (kwargs, exact start of the message or a distinctive fragment)
    ({"op": "pow"}, "op: unknown operation 'pow'; expected one of add, sub, mul, div, squared, root"),
    ({"op": 3}, "op: unknown operation 3"),
    ({"op": "add", "input_size": 0}, "input_size: must be a positive integer, got 0"),
    ({"op": "add", "input_size": -3}, "input_size: must be a positive integer, got -3"),
    ({"op": "add", "input_size": 2.5}, "input_size: must be a positive integer, got 2.5"),
    ({"op": "add", "input_size": True}, "input_size: must be a positive integer, got True"),
    ({"op": "add", "num_subsets": 0}, "num_subsets: must be a positive integer, got 0"),
    ({"op": "add", "eval_samples": 0}, "eval_samples: must be a positive integer, got 0"),
    ({"op": "add", "subset_ratio": 1.5}, "subset_ratio: must be in [0, 1], got 1.5"),
    ({"op": "add", "subset_ratio": -0.1}, "subset_ratio: must be in [0, 1], got -0.1"),
    ({"op": "add", "subset_ratio": math.nan}, "subset_ratio: must be in [0, 1], got nan"),
    ({"op": "add", "subset_ratio": "0.25"}, "subset_ratio: must be a number in [0, 1], got '0.25'"),
    ({"op": "add", "overlap_ratio": 2}, "overlap_ratio: must be in [0, 1], got 2"),
    ({"op": "add", "overlap_ratio": -1e-9}, "overlap_ratio: must be in [0, 1], got -1e-09"),
    ({"op": "add", "subset_ratio": 0.001},
     "subset_ratio: floor(0.001 * 100) = 0 inputs per subset; every subset would be empty"),
    ({"op": "add", "subset_ratio": 0.6, "overlap_ratio": 0.0},
     "subset_ratio: 2 subsets of 60 inputs overlapping by 0 span 120 inputs, more than input_size=100"),
    ({"op": "add", "input_size": 10, "subset_ratio": 0.5, "num_subsets": 3},
     "subset_ratio: 3 subsets of 5 inputs overlapping by 2 span 11 inputs, more than input_size=10"),
    ({"op": "sub", "num_subsets": 1}, "num_subsets: op 'sub' needs 2 subsets (a and b), got 1"),
    ({"op": "div", "num_subsets": 1}, "num_subsets: op 'div' needs 2 subsets (a and b), got 1"),
    ({"op": "add", "simple": True}, "input_size: the simple variant has exactly 4 inputs, got 100"),
    ({"op": "add", "simple": "yes"}, "simple: must be True or False, got 'yes'"),
    ({"op": "add", "simple": True, "input_size": 4, "num_subsets": 3},
     "num_subsets: the simple variant has exactly 2 subsets, got 3"),
    ({"op": "add", "interpolation_range": (2, 2)}, "interpolation_range: empty range [2, 2]"),
    ({"op": "add", "interpolation_range": (2, 1)},
     "interpolation_range: reversed range [2, 1] (lo must be below hi)"),
    ({"op": "add", "extrapolation_range": (6, 2)},
     "extrapolation_range: reversed range [6, 2] (lo must be below hi)"),
    ({"op": "add", "extrapolation_range": ((-6, -2), (2, 2))}, "extrapolation_range: empty range [2, 2]"),
    ({"op": "add", "extrapolation_range": (1, math.inf)}, "extrapolation_range: bounds must be finite"),
    ({"op": "add", "extrapolation_range": (1, "x")}, "extrapolation_range: expected a number, got 'x'"),
    ({"op": "add", "extrapolation_range": "2,6"}, "extrapolation_range: expected (lo, hi) or a union"),
    ({"op": "add", "extrapolation_range": ()}, "extrapolation_range: expected (lo, hi) or a union"),
    ({"op": "add", "extrapolation_range": (1, 2, 3)},
     "extrapolation_range: a range needs exactly two bounds (lo, hi), got (1, 2, 3)"),
    ({"op": "add", "extrapolation_range": (1, (2, 3))}, "extrapolation_range: mixes numbers and ranges"),
    ({"op": "add", "extrapolation_range": ((-6, -2), (2, 4))},
     "extrapolation_range: union ranges must have equal widths (the coin picks a range with "
     "probability 1/2), got widths 4 and 2"),
    ({"op": "add", "extrapolation_range": ((1, 3), (2, 4))},
     "extrapolation_range: union ranges overlap: U[1,3] ∪ U[2,4]"),
    ({"op": "add", "extrapolation_range": ((1, 2), (3, 4), (5, 6))},
     "extrapolation_range: a union may have at most 2 ranges (as in the reference), got 3"),
    ({"op": "root", "interpolation_range": (-1, 1)},
     "interpolation_range: op 'root' is undefined for negative a, but a (the sum of 25 inputs from "
     "U[-1,1]) reaches -25"),
    ({"op": "root", "extrapolation_range": ((-6, -2), (2, 6))},
     "extrapolation_range: op 'root' is undefined for negative a, but a (the sum of 25 inputs from "
     "U[-6,-2] ∪ U[2,6]) reaches -150"),
    ({"op": "div", "interpolation_range": (-2, 2)},
     "interpolation_range: op 'div' divides by b, the sum of 25 inputs from U[-2,2], and b in "
     "[-50, 50] contains 0 (pass allow_zero_denominator=True to accept an unbounded target)"),
    ({"op": "div", "extrapolation_range": (0, 1)},
     "extrapolation_range: op 'div' divides by b, the sum of 25 inputs from U[0,1], and b in [0, 25] "
     "contains 0"),
    ({"op": "div", "extrapolation_range": ((-6, -2), (2, 6))},
     "extrapolation_range: op 'div' divides by b, the sum of 25 inputs from U[-6,-2] ∪ U[2,6], and b "
     "can lie in"),
]


@pytest.mark.parametrize("kwargs, message", CASES, ids=[m[:48] for _, m in CASES])
def test_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        StaticArithmeticTask(**kwargs)
    assert str(info.value).startswith(message), str(info.value)
    field = message.split(":")[0]
    assert field in {f.name for f in StaticArithmeticTask.__dataclass_fields__.values()}


def test_config_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        StaticArithmeticTask("add", subset_ratio=2)


def test_division_domain_reasoned_from_subset_size() -> None:
    # one-element denominator from a union that avoids 0: fine (the Primer's pair 5, test range)
    SingleModuleTask("div", extrapolation_range=((-6, -2), (2, 6)))
    # the same union summed over 25 inputs mixes signs and can reach 0: rejected (case list above)
    # negative ranges keep the denominator away from 0
    StaticArithmeticTask("div", interpolation_range=(-2, -1), extrapolation_range=(-6, -2))
    StaticArithmeticTask("div", interpolation_range=(0.1, 0.2), extrapolation_range=(0.2, 2))
    # a union of two negative ranges is fine too
    StaticArithmeticTask("div", extrapolation_range=((-6, -4), (-3, -1)))
    # a single-element b over U[-2, 2] crosses 0 ...
    with pytest.raises(ConfigError, match=r"^interpolation_range: op 'div' divides by b, the sum of 1 inputs"):
        SingleModuleTask("div", interpolation_range=(-2, 2))
    # ... unless asked for explicitly (the Primer ran this cell)
    t = SingleModuleTask("div", interpolation_range=(-2, 2), allow_zero_denominator=True)
    assert t.allow_zero_denominator
    # root is fine on ranges touching 0 from above, and squared anywhere
    StaticArithmeticTask("root", interpolation_range=(0, 1))
    StaticArithmeticTask("squared", interpolation_range=(-2, 2))


def test_bad_seeds_splits_and_batches() -> None:
    t = StaticArithmeticTask("add")
    with pytest.raises(ConfigError, match=r"^seed: must be in \[0, 2\*\*32\)"):
        t.subsets(-1)
    with pytest.raises(ConfigError, match=r"^seed: must be in \[0, 2\*\*32\)"):
        t.offset(2**32)
    with pytest.raises(ConfigError, match=r"^seed: expected an integer, got 1.5"):
        t.subsets(1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^split: expected 'interpolation' or 'extrapolation', got 'train'"):
        t.evaluation_set("train", [0])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^batch_size: must be a positive integer, got 0"):
        t.train_batch([0], 0, 0)
    with pytest.raises(ConfigError, match=r"^step: must be a non-negative integer, got -1"):
        t.train_batch([0], -1, 8)
    with pytest.raises(ConfigError, match=r"^seed: must be in"):
        t.train_batch([-5], 0, 8, dtype=torch.float32)
    with pytest.raises(ConfigError, match=r"^dtype: must be a floating-point torch dtype, got torch.int64"):
        t.train_batch([0], 0, 8, dtype=torch.int64)


def test_numpy_ranges_accepted() -> None:
    import numpy as np

    t = StaticArithmeticTask("add", interpolation_range=np.array([1.0, 2.0]))
    assert t.interpolation_range == ((1.0, 2.0),)
