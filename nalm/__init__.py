"""nalm — neural arithmetic logic modules that learn exact arithmetic and extrapolate.

Everything below is exported lazily (PEP 562): ``import nalm`` loads neither torch nor numpy, and
``from nalm import NMU`` loads torch and the units only; ``nalm.explain`` (the formula read-out) loads
sympy on first use. Importing a torch-free submodule such as
``nalm.store``, ``nalm.report`` or ``nalm.errors`` never loads torch, so the results store, the
report and the CLI's light commands run without paying for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_UNIT_CLASSES = (
    "NAC", "NACMul", "NALU", "NAU", "NMU", "NACMulSigma", "NACMulNMU", "GatedNAUNMU", "SNMU",
    "GNALU", "INALU", "NPU", "RealNPU", "NaiveNPU", "NRU", "NMRU", "Linear", "ReLU", "ReLU6",
)

# public name -> module that defines it; imported on first attribute access
_LAZY_EXPORTS = {
    **{name: "nalm.units" for name in _UNIT_CLASSES},
    "ArithmeticUnit": "nalm.units",
    "available_units": "nalm.units",
    "create": "nalm.units",
    "RecurrentCell": "nalm.units.recurrent",
    # tasks
    "StaticArithmeticTask": "nalm.tasks",
    "SingleModuleTask": "nalm.tasks",
    "RecurrentArithmeticTask": "nalm.tasks",
    # training
    "ModelSpec": "nalm.training",
    "TrainRecipe": "nalm.training",
    "OptimizerSpec": "nalm.training",
    "RunGroup": "nalm.training",
    "TrainOutput": "nalm.training",
    "train": "nalm.training",
    "train_groups": "nalm.training",
    "default_recipe": "nalm.training.recipes",
    # scoring
    "success_threshold": "nalm.metrics",
    "threshold_estimate": "nalm.metrics",
    "wilson_interval": "nalm.stats",
    "success_rate": "nalm.stats",
    "SuccessRate": "nalm.stats",
    "RunResult": "nalm.results",
    "ConfigError": "nalm.errors",
    # formula read-out (loads sympy on first use)
    "explain": "nalm.formula",
    "Explanation": "nalm.formula",
}

# submodules reachable as attributes after a bare ``import nalm``
_SUBMODULES = frozenset(
    {"units", "functional", "tasks", "training", "metrics", "stats", "results", "errors", "store",
     "formula"}
)

__all__ = sorted([*_LAZY_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from .errors import ConfigError
    from .formula import Explanation, explain
    from .metrics import success_threshold, threshold_estimate
    from .results import RunResult
    from .stats import SuccessRate, success_rate, wilson_interval
    from .tasks import RecurrentArithmeticTask, SingleModuleTask, StaticArithmeticTask
    from .training import (
        ModelSpec,
        OptimizerSpec,
        RunGroup,
        TrainOutput,
        TrainRecipe,
        train,
        train_groups,
    )
    from .training.recipes import default_recipe
    from .units import (
        GNALU,
        INALU,
        NAC,
        NALU,
        NAU,
        NMRU,
        NMU,
        NPU,
        NRU,
        SNMU,
        ArithmeticUnit,
        GatedNAUNMU,
        Linear,
        NACMul,
        NACMulNMU,
        NACMulSigma,
        NaiveNPU,
        RealNPU,
        ReLU,
        ReLU6,
        available_units,
        create,
    )
    from .units.recurrent import RecurrentCell


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS, _SUBMODULES)
