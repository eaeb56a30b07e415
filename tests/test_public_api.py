"""The public surface: what ``import nalm`` exports, and what it loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nalm

HEAVY = ("scipy", "numba", "pydantic", "matplotlib", "sympy")


def _loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by ``code`` in a fresh interpreter."""
    script = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_nalm_loads_neither_torch_nor_the_benchmark_stack() -> None:
    loaded = _loaded_after("import nalm")
    assert "torch" not in loaded
    assert not loaded & set(HEAVY)


def test_creating_a_unit_loads_torch_but_not_the_benchmark_stack() -> None:
    loaded = _loaded_after("import nalm\nimport nalm.units\nnalm.NMU(2, 1)\nnalm.create('npu', 3, 2)")
    assert "torch" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_data_kernels_can_be_prepared_before_torch_is_imported() -> None:
    # `nalm train` starts a missing kernel's background compile before importing torch (cold start).
    loaded = _loaded_after("from nalm.tasks.rng.backend import prepare_kernel\nprepare_kernel('float32')")
    assert "torch" not in loaded
    assert "numba" in loaded


def test_the_training_api_loads_no_benchmark_stack() -> None:
    loaded = _loaded_after(
        "import nalm\n"
        "task = nalm.SingleModuleTask('add', interpolation_range=(1, 2), extrapolation_range=(2, 6))\n"
        "nalm.ModelSpec(('nau',), 2, 1); nalm.default_recipe('nau', 'add')"
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


@pytest.mark.parametrize("name", nalm.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(nalm, name) is not None


def test_every_unit_class_is_exported_and_registered() -> None:
    registered = {nalm.units.unit_class(name) for name in nalm.available_units()}
    exported = {getattr(nalm, name) for name in nalm.units.UNIT_CLASSES}
    assert exported == registered
    assert set(nalm.units.__all__) == {
        *nalm.units.UNIT_CLASSES, "ArithmeticUnit", "available_units", "create", "unit_class"
    }


def test_functional_helpers_are_the_units_own() -> None:
    import torch

    from nalm import functional as F

    w_hat, m_hat = torch.randn(2, 3), torch.randn(2, 3)
    nac = nalm.NAC(3, 2)
    with torch.no_grad():
        nac.W_hat.copy_(w_hat)
        nac.M_hat.copy_(m_hat)
    assert torch.equal(F.nac_weight(w_hat, m_hat), torch.tanh(w_hat) * torch.sigmoid(m_hat))
    assert torch.equal(nac.effective_weights()["W"], F.nac_weight(w_hat, m_hat))
    assert F.sparsity_distance(torch.tensor([0.0, 0.25, -0.9, 1.0])).tolist() == pytest.approx(
        [0.0, 0.25, 0.1, 0.0]
    )


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NMUU'"):
        nalm.NMUU  # noqa: B018


def test_explain_is_the_function_and_loads_sympy_only_when_used() -> None:
    """The area is ``nalm.formula``: a subpackage named ``explain`` would replace the function
    ``nalm.explain`` by the module as soon as anything imported it."""
    loaded = _loaded_after("import nalm\nimport nalm.formula\nassert callable(nalm.explain)")
    assert "sympy" in loaded
    assert "sympy" not in _loaded_after("import nalm\nimport nalm.formula")
    import nalm.formula.api

    assert nalm.explain is nalm.formula.api.explain
