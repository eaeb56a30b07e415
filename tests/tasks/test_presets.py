"""Primer range pairs and single-module task variants (Mistry, Farrahi & Hare, JMLR 2022)."""

from __future__ import annotations

import pytest

from nalm.errors import ConfigError
from nalm.tasks import PRIMER_RANGES, SingleModuleTask, madsen_task, primer_task


def test_nine_pairs_as_in_the_primer_table() -> None:
    table = [
        ((-20, -10), ((-40, -20),)),
        ((-2, -1), ((-6, -2),)),
        ((-1.2, -1.1), ((-6.1, -1.2),)),
        ((-0.2, -0.1), ((-2, -0.2),)),
        ((-2, 2), ((-6, -2), (2, 6))),
        ((0.1, 0.2), ((0.2, 2),)),
        ((1, 2), ((2, 6),)),
        ((1.1, 1.2), ((1.2, 6),)),
        ((10, 20), ((20, 40),)),
    ]
    pairs = sorted(PRIMER_RANGES.values(), key=lambda p: p.index)
    assert [p.index for p in pairs] == list(range(1, 10))
    for p, (interp, extrap) in zip(pairs, table):
        assert p.interpolation == (interp,)
        assert p.extrapolation == extrap


@pytest.mark.parametrize("name", sorted(PRIMER_RANGES))
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_every_cell_constructs(name: str, op: str) -> None:
    t = primer_task(op, name)
    assert isinstance(t, SingleModuleTask)
    assert t.subsets(7) == ((0, 1), (1, 2))  # a = x[0], b = x[1]: the offset draw is always 0
    assert t.allow_zero_denominator == (op == "div" and name == "neg2_2")


def test_redundant_variants() -> None:
    t10 = primer_task("add", "1_2", input_size=10)
    t100 = primer_task("sub", "1_2", input_size=100)
    assert (t10.subset_size, t10.used_size) == (1, 2)
    offsets10 = {t10.offset(s) for s in range(200)}
    assert offsets10 <= set(range(9)) and len(offsets10) > 5
    assert all(0 <= t100.offset(s) <= 98 for s in range(50))
    (a0, a1), (b0, b1) = t10.subsets(3)
    assert a1 - a0 == b1 - b0 == 1 and b0 == a1  # adjacent operands


def test_preset_errors() -> None:
    with pytest.raises(ConfigError, match=r"^preset: unknown range pair 'u1_2'"):
        primer_task("add", "u1_2")
    with pytest.raises(ConfigError, match=r"^input_size: the Primer uses 2, 10 or 100 inputs, got 5"):
        primer_task("add", "1_2", input_size=5)


def test_madsen_default_is_the_paper_setting() -> None:
    t = madsen_task("mul")
    assert (t.input_size, t.subset_ratio, t.overlap_ratio) == (100, 0.25, 0.5)
    assert t.interpolation_range == ((1.0, 2.0),) and t.extrapolation_range == ((2.0, 6.0),)
