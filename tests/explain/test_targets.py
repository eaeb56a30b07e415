"""Composed networks against their task's target: equal, another formula, or not snappable — and a
wrong formula is never reported as the target."""

from __future__ import annotations

import pytest
import torch

import nalm
from nalm.formula import explain
from nalm.tasks import SingleModuleTask, StaticArithmeticTask, primer_task
from nalm.tasks.article import ArticleTask
from nalm.tasks.npu_simple import NPUSimpleTask

from .helpers import nac_raw, set_params, unit

INTRO = StaticArithmeticTask("mul", input_size=4, simple=True)  # (x0 + x1 + x2 + x3) · (x0 + x1)


def nau_nmu(nau_W, nmu_W) -> torch.nn.Sequential:
    return torch.nn.Sequential(set_params(unit("nau", 4, 2), W=nau_W), set_params(unit("nmu", 2, 1), W=nmu_W))


def test_nau_nmu_composed_is_the_intro_target() -> None:
    e = explain(nau_nmu([[1, 1, 1, 1], [1, 1, 0, 0]], [[1, 1]]), INTRO)
    assert e.outcome == "exact_target" and e.recovered
    assert e.formula == "(x0 + x1)*(x0 + x1 + x2 + x3)"
    assert e.target == "sum(x[0:4]) * sum(x[0:2])"
    assert e.extrapolation_max_error < 1e-12
    swapped = explain(nau_nmu([[1, 1, 0, 0], [1, 1, 1, 1]], [[1, 1]]), INTRO)
    assert swapped.outcome == "exact_target"


def test_a_wrong_subset_is_another_formula_never_the_target() -> None:
    e = explain(nau_nmu([[1, 1, 1, 1], [1, 0, 1, 0]], [[1, 1]]), INTRO)
    assert e.outcome == "exact_other" and not e.recovered
    assert e.formula == "(x0 + x2)*(x0 + x1 + x2 + x3)"
    assert "is not the target" in e.reason
    assert e.extrapolation_max_error > 0.01  # and the numbers say so too


def test_an_unused_hidden_unit_does_not_need_to_snap() -> None:
    """The NMU ignores hidden unit 1 (W = 0): its NAU row is irrelevant, even far from {−1, 0, 1}."""
    e = explain(nau_nmu([[1, 1, 1, 1], [0.4, 0.3, 0.5, 0.2]], [[1, 0]]), INTRO)
    assert e.outcome == "exact_other" and e.formula == "x0 + x1 + x2 + x3"
    assert e.max_snap_distance < 1e-9
    used = explain(nau_nmu([[1, 1, 1, 1], [0.4, 0.3, 0.5, 0.2]], [[1, 1]]), INTRO)
    assert used.outcome == "not_snappable"
    assert "layer 2 (nmu): output 0 uses input 1, which does not snap: layer 1 (nau)" in used.reason


def test_a_linear_chain_split_between_hidden_units_is_read_as_its_product() -> None:
    """NAU → NAU on a + b: the weights of the inputs only one subset holds can be split 0.5/0.5
    between the hidden units and the network is still exact; only the product is determined."""
    task = StaticArithmeticTask("add", input_size=4, subset_ratio=0.5, overlap_ratio=0.5)
    seed = _seed_with_offset(task, 0)
    assert task.subset_indices(seed) == [[0, 1], [1, 2]]  # x0 + 2·x1 + x2
    model = torch.nn.Sequential(
        set_params(unit("nau", 4, 2), W=[[0.5, 1, 0.5, 0], [0.5, 1, 0.5, 0]]),
        set_params(unit("nau", 2, 1), W=[[1, 1]]),
    )
    e = explain(model, task, seeds=[seed])
    assert e.outcome == "exact_target", e.reason
    assert e.formula == "x0 + 2*x1 + x2"
    assert "layers 1–2 read as one linear map" in e.note and "W[0][0] = 0.5" in e.note
    wrong = set_params(model[0], W=[[0.5, 1, 0.5, 0.5], [0.5, 1, 0.5, 0.5]])
    assert wrong is model[0]
    assert explain(model, task, seeds=[seed]).outcome == "exact_other"


def _seed_with_offset(task: StaticArithmeticTask, offset: int) -> int:
    return next(s for s in range(100) if task.offset(s) == offset)


def test_the_target_follows_the_seed() -> None:
    task = SingleModuleTask("add", input_size=3, subset_ratio=1 / 3)
    first, second = _seed_with_offset(task, 0), _seed_with_offset(task, 1)
    nau = set_params(unit("nau", 3), W=[[1, 1, 0]])
    assert explain(nau, task, seeds=[first]).outcome == "exact_target"
    e = explain(nau, task, seeds=[second])
    assert e.outcome == "exact_other" and e.target == "sum(x[1:2]) + sum(x[2:3])"
    x0_x2 = set_params(unit("nau", 3), W=[[1, 0, 1]])
    assert explain(x0_x2, task, seeds=[first]).outcome == "exact_other"
    with pytest.raises(nalm.ConfigError, match="seed"):
        explain(nau, task)


@pytest.mark.parametrize("ranges, outcome", [("1_2", "exact_target"), ("neg2_neg1", "exact_target"),
                                             ("neg2_2", "exact_other")])
def test_magnitude_products_equal_the_target_only_where_the_signs_allow(ranges: str, outcome: str) -> None:
    """NAC• computes |x0|·|x1|: the product on positive inputs and on two negative ones, not on
    inputs of either sign."""
    nac_mul = set_params(unit("nac_mul", 2), **nac_raw([[1, 1]]))
    e = explain(nac_mul, primer_task("mul", ranges))
    assert e.outcome == outcome, e.reason


def test_division_reciprocal_root_and_square() -> None:
    assert explain(set_params(unit("nru", 2), W=[[1, -1]]), primer_task("div", "1_2")).recovered
    reciprocal = StaticArithmeticTask("reciprocal", input_size=4, subset_ratio=0.5, overlap_ratio=0.0)
    nru = torch.nn.Sequential(set_params(unit("nau", 4, 2), W=[[1, 1, 0, 0], [0, 0, 1, 1]]),
                              set_params(unit("nru", 2, 1), W=[[-1, 0]]))
    e = explain(nru, reciprocal)
    assert e.outcome == "exact_target" and e.formula == "1/(x0 + x1)"
    root = StaticArithmeticTask("root", input_size=4, subset_ratio=0.5, overlap_ratio=0.0)
    npu = torch.nn.Sequential(set_params(unit("nau", 4, 2), W=[[1, 1, 0, 0], [0, 0, 1, 1]]),
                              set_params(unit("real_npu", 2, 1), W_re=[[0.5, 0.7]], g=[1, 0]))
    e = explain(npu, root)
    assert e.outcome == "exact_target" and e.formula == "sqrt(x0 + x1)"
    squared = StaticArithmeticTask("squared", input_size=4, subset_ratio=0.5, overlap_ratio=0.0)
    nmu = nau_nmu([[1, 1, 0, 0], [1, 1, 0, 0]], [[1, 1]])
    assert explain(nmu, squared).formula == "(x0 + x1)**2"
    assert explain(nmu, squared).recovered


def test_article_task_and_input_names() -> None:
    nac = set_params(unit("nac", 2), **nac_raw([[1, 1]]))
    e = explain(nac, ArticleTask("add"), names=("x1", "x2"))
    assert e.recovered and e.formula == "x1 + x2"
    assert not explain(nac, ArticleTask("mul")).recovered


def test_several_outputs_each_compared() -> None:
    """NPU simple task: four outputs; a network right on three of them is another formula."""
    model = set_params(unit("linear", 2, 4), weight=[[1, 1], [1, 1], [1, 0], [1, 0]], bias=[0, 0, 0, 0])
    e = explain(model, NPUSimpleTask())
    assert e.outcome == "exact_other" and e.reason.startswith("output 1:")
    assert e.formula.startswith("y0 = x0 + x1; y1 = x0 + x1")
