"""The four packaged suites load, validate under both profiles, and have the papers' cell counts."""

from __future__ import annotations

from collections import Counter

import pytest

from nalm.bench.plan import plan_cells
from nalm.bench.schema import load_suite, packaged_suites
from nalm.store import config_hash

EXPECTED = {
    # suite: (full cells, quick cells)
    "article": (2, 2),
    "madsen2020": (11 * 6 + 3 * 2 + 3, 4 + 3),
    # recurrent task: (NAU, NAC+, NALU on +,-) + (NMU, NAC*, NALU on x); quick: NAU on +,-, NMU on x
    "madsen2020_recurrent": (3 * 2 + 3, 3),
    # sequential MNIST: 7 product models + the reference, 2 sum models + the reference; quick: 2 + 1
    # each (planned on the generated fixture: NALM_MNIST_DIR=fixture)
    "madsen2020_sequential_mnist": (8 + 3, 3 + 3),
    "npu2020": (3, 3),
    # division: 4 modules x 9 pairs x (2, 10 inputs) + 3 x 2 extra pairs + 3 levels x 3 modules x 5
    # ranges; quick: 2 modules x 9 pairs (10 inputs) + divby0-easy (tests/bench/test_mistry2021.py)
    "mistry2021": (4 * 9 * 2 + 3 * 2 + 3 * 3 * 5, 2 * 9 + 3 * 5),
    # Primer: (NAC+, NAU on +,-) + (NMU on x) + (NAC*, NPU, Real NPU on x,/) + (NALU, G-NALU, iNALU
    # on +,-,x,/), nine range pairs each, plus three redundant-input variants on nine pairs
    "primer2022": ((2 * 2 + 1 + 3 * 2 + 3 * 4) * 9 + 3 * 9, (2 + 1 + 1) * 9),
    # iNALU experiment 1: 4 models x 4 operations x 7 distribution pairs; quick: 3 models x 4 ops x 1
    "schlor2020": (4 * 4 * 7, 3 * 4),
    # NPU paper: large-scale task 5 models x 4 operations + simple task 4 models; quick: the simple
    # task's NALU left out (tests/bench/test_heim2020.py)
    "heim2020": (5 * 4 + 4, 5 * 4 + 3),
}


@pytest.fixture(scope="module")
def plans():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NALM_MNIST_DIR", "fixture")  # no MNIST on the test machine
        return {
            (name, profile): plan_cells(load_suite(name), profile)
            for name in EXPECTED
            for profile in ("full", "quick")
        }


def test_the_four_suites_are_packaged() -> None:
    assert packaged_suites() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cell_counts(plans, name: str) -> None:
    full, quick = EXPECTED[name]
    assert len(plans[(name, "full")]) == full
    assert len(plans[(name, "quick")]) == quick
    for profile in ("full", "quick"):
        cells = plans[(name, profile)]
        ids = [c.id for c in cells]
        assert len(set(ids)) == len(ids)
        hashes = [config_hash(cfg) for c in cells for _, cfg in c.configs.values()]
        assert len(set(hashes)) == len(hashes), "two cells share a run identity"


def test_madsen2020_full_is_the_papers_protocol(plans) -> None:
    cells = plans[("madsen2020", "full")]
    main = [c for c in cells if c.block == "main"]
    assert Counter(c.model for c in main) == {m: 6 for m in (
        "NMU", "NAU", "NAC+", "NAC*", "NAC*(sigma)", "NAC*(NMU)", "NALU", "Gated NAU/NMU", "Linear",
        "ReLU", "ReLU6")}
    for c in cells:
        assert len(c.seeds) == 100
        assert c.iterations == (200_000 if c.block == "intro" else 5_000_000)
        assert c.policies == ("madsen_r", "generator")
        assert c.recipe.batch_size == 128 and c.recipe.optimizer.lr == 1e-3
        assert c.configs["madsen_r"][1]["published"]["source"] == "madsen2020"
    units = {c.model_key: c.spec.units for c in cells}
    assert units["NMU"] == ("nau", "nmu") and units["NACmul-NMU"] == ("nau", "nac_mul_nmu")
    assert units["ReLU"] == ("relu", "linear") and units["NAU-Gated"] == ("nau", "gated_nau_nmu")
    nmu = next(c for c in cells if c.id == "main/NMU/mul")
    ramp = nmu.recipe.regularizers["sparsity"]
    assert (ramp.scale, ramp.start, ramp.end) == (10.0, 1_000_000, 2_000_000)
    nau = next(c for c in cells if c.id == "main/NAU/add")
    ramp = nau.recipe.regularizers["sparsity"]
    assert (ramp.scale, ramp.start, ramp.end) == (0.01, 5_000, 50_000)
    intro = next(c for c in cells if c.id == "intro/NMU/mul")
    assert intro.recipe.regularizers["sparsity"].start == 1_000_000  # never active in 200,000 steps
    gating = {c.configs["madsen_r"][1]["published"]["table"] for c in cells if c.block == "gating"}
    assert gating == {"gating"}


def test_madsen2020_quick_truncates_schedules(plans) -> None:
    cells = {c.id: c for c in plans[("madsen2020", "quick")]}
    assert sorted(cells) == sorted([
        "main/NAU/add", "main/NAU/sub", "main/NALU/add", "main/NALU/sub",
        "intro/NACmul/mul", "intro/NALU/mul", "intro/NMU/mul"])
    ramp = cells["main/NAU/add"].recipe.regularizers["sparsity"]
    assert (ramp.start, ramp.end) == (5_000, 50_000)
    assert cells["main/NAU/add"].iterations == 30_000 and len(cells["intro/NMU/mul"].seeds) == 25


def test_primer2022_full_is_the_papers_protocol(plans) -> None:
    cells = plans[("primer2022", "full")]
    for c in cells:
        assert len(c.seeds) == 25
        assert c.iterations == (100_000 if c.block in ("in10-nau", "in100-nau") else 50_000)
        assert c.policies == ("fixed_1e-5", "simulated_eps_1e-4")
    assert {c.range for c in cells} == {
        "neg20_neg10", "neg2_neg1", "neg1.2_neg1.1", "neg0.2_neg0.1", "neg2_2", "0.1_0.2", "1_2",
        "1.1_1.2", "10_20"}
    npu = next(c for c in cells if c.id == "muldiv/NPU/div/1_2")
    assert npu.recipe.optimizer.lr == 5e-3
    beta = npu.recipe.regularizers["l1"]
    assert (beta.start, beta.end, beta.every) == (1e-9, 1e-7, 10_000)
    inalu = next(c for c in cells if c.id == "all/iNALU/mul/1_2")
    assert inalu.recipe.clip_grad_value == 0.1 and inalu.recipe.hooks


def test_primer2022_quick_truncates_nau_and_scales_the_others(plans) -> None:
    cells = {c.id: c for c in plans[("primer2022", "quick")]}
    assert {c.model for c in cells.values()} == {"NAU", "NMU", "NALU"}
    assert {c.op for c in cells.values() if c.model == "NALU"} == {"mul"}
    for c in cells.values():
        assert c.seeds == tuple(range(10)), c.id
        assert c.iterations == (20_000 if (c.model, c.op) == ("NAU", "sub") else 10_000), c.id
        schedules = "truncate" if c.model == "NAU" else "scale"
        assert c.configs["fixed_1e-5"][1]["schedules"] == schedules, c.id
    # NAU: the protocol's penalty steps (a quick run is the start of the protocol run)
    for op in ("add", "sub"):
        ramp = cells[f"addsub/NAU/{op}/1.1_1.2"].recipe.regularizers["sparsity"]
        assert (ramp.scale, ramp.start, ramp.end) == (0.01, 20_000, 35_000)
    # NMU: scaled by 10,000 / 50,000
    ramp = cells["mul/NMU/mul/neg0.2_neg0.1"].recipe.regularizers["sparsity"]
    assert (ramp.scale, ramp.start, ramp.end) == (10.0, 4_000, 7_000)
    assert not cells["all/NALU/mul/1_2"].recipe.regularizers
    assert sum(c.work for c in cells.values()) == 4_500_000


def test_npu2020_and_article(plans) -> None:
    npu = plans[("npu2020", "full")]
    assert [c.spec.describe() for c in npu] == [
        "npu(2→6) → nau(6→4)", "real_npu(2→6) → nau(6→4)", "nmu(2→6) → nau(6→4)"]
    for c in npu:
        assert (len(c.seeds), c.iterations, c.recipe.batch_size, c.recipe.optimizer.lr) == (20, 20_000, 100, 5e-3)
        assert not c.recipe.regularizers
    article = plans[("article", "full")]
    assert [(c.model, c.op) for c in article] == [("NAC", "add"), ("NALU", "mul")]
    for c in article:
        assert c.iterations == 22_000 and c.recipe.optimizer.lr == 0.05
        assert c.configs["fixed_1e-5"][1]["options"] == [{"init": "article"}]
