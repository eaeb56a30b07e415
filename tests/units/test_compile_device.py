"""torch.compile(fullgraph=True) on every unit's forward, and CPU vs CUDA agreement.

Dynamo capture with ``fullgraph=True`` is what guarantees there is no graph break; the default run
traces every unit through AOT autograd (``backend="aot_eager"``: functionalisation and decompositions,
forward and backward) in one compiled module, which takes seconds on 2 cores. Full Inductor code
generation for all units takes about 1.5 minutes here, so it runs only with ``NALM_TEST_INDUCTOR=1``
(it is run on the device machine when one is lent).
"""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

import nalm

from .helpers import make, moderate_inputs

UNITS = nalm.available_units()


class _AllUnits(nn.Module):
    """Every registered unit side by side, so one compilation covers them all."""

    def __init__(self, names: list[str], device: str = "cpu") -> None:
        super().__init__()
        self.names = names
        self.units = nn.ModuleList([make(n, 3, 2, seed=i, device=device) for i, n in enumerate(names)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [unit(x) for unit in self.units]


def _check_compiled(backend: str, device: str = "cpu") -> None:
    torch._dynamo.reset()
    model = _AllUnits(UNITS, device=device)
    x = moderate_inputs((5, 3), gen=torch.Generator().manual_seed(0), dtype=torch.float32).to(device)
    for training in (False, True):
        model.train(training)
        compiled = torch.compile(model, fullgraph=True, backend=backend)
        got = compiled(x)
        want = model(x)
        for name, g, w in zip(UNITS, got, want):
            assert g.shape == w.shape == (5, 2), name
            if training and name == "snmu":
                assert torch.isfinite(g).all(), name  # fresh noise: compare finiteness only
                continue
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6, msg=f"{name} training={training}")
        torch.stack([g.sum() for g in got]).sum().backward()
        for name, unit in zip(UNITS, model.units):
            assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in unit.parameters()), name
        model.zero_grad(set_to_none=True)
    torch._dynamo.reset()


def test_fullgraph_compile_every_unit_aot_eager():
    _check_compiled("aot_eager")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("NALM_TEST_INDUCTOR"), reason="set NALM_TEST_INDUCTOR=1 (~1.5 min)")
def test_fullgraph_compile_every_unit_inductor():
    _check_compiled("inductor", device="cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", UNITS)
@pytest.mark.parametrize("training", [False, True])
def test_cpu_and_cuda_agree(name, training):
    cpu = make(name, 3, 2, seed=0).train(training)
    gpu = make(name, 3, 2, seed=0).to("cuda").train(training)
    x = moderate_inputs((64, 3), gen=torch.Generator().manual_seed(0), dtype=torch.float32)
    if training and name == "snmu":
        # Noise comes from each device's own generator: compare with the noise cancelled, i.e.
        # discrete weights, where the sNMU equals the NMU exactly.
        for unit in (cpu, gpu):
            with torch.no_grad():
                unit.W.copy_(torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    want = cpu(x)
    got = gpu(x.cuda()).cpu()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    for (key, a), (_, b) in zip(sorted(cpu.regularizers().items()), sorted(gpu.regularizers().items())):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-5, atol=1e-6, msg=key)
