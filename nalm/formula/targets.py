"""A task's ground truth as sympy expressions, and the data a read-out is checked on.

* The static and single-module tasks: the operation of :mod:`nalm.tasks.ops` applied to the subset
  sums, ``a = Σ_(i ∈ subset a) x_i`` (and b, …), with the subsets the task places for the run's seed
  (:meth:`~nalm.tasks.StaticArithmeticTask.subset_indices`). The operations table's own computation
  is used, with sympy as its array namespace, so the target is the one the task computes.
* The article task: x0 + x1 or x0 · x1; the iNALU task: x0 ∘ x1. The NPU simple task: (x0 + x1, x0·x1, x0/x1, √x0).
* Any other task: no symbolic target (a read-out can then only say "exact").

Data come through the task protocol (``evaluation_set`` in float64), so any task can be probed and
checked numerically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy
import torch

from nalm.errors import ConfigError
from nalm.tasks.article import ArticleTask
from nalm.tasks.inalu_data import INALUArithmeticTask
from nalm.tasks.npu_simple import NPUSimpleTask
from nalm.tasks.ops import operation
from nalm.tasks.static import StaticArithmeticTask

__all__ = ["evaluation_data", "input_symbols", "seed_dependent", "target_expressions"]


class _SympyNamespace:
    """The array namespace the operations table's computations need (``sqrt``), in sympy."""

    sqrt = staticmethod(sympy.sqrt)


def seed_dependent(task: Any) -> bool:
    """Whether the task's target depends on the run's seed (subsets at a seed-dependent offset)."""
    if isinstance(task, StaticArithmeticTask):
        return not task.simple and task.used_size < task.input_size
    return False


def _exact(expr: Any) -> Any:
    """Floats the operations table writes (``1.0 / a``) as the rationals they are."""
    expr = sympy.sympify(expr)
    return expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})


def target_expressions(task: Any, seed: int, symbols: Sequence[sympy.Symbol]) -> list[Any] | None:
    """The target of each output over ``symbols`` for run ``seed``; None when the task has none."""
    if isinstance(task, StaticArithmeticTask):
        operands = [sympy.Add(*(symbols[i] for i in subset)) for subset in task.subset_indices(seed)]
        return [_exact(operation(task.op).compute(operands, _SympyNamespace))]
    if isinstance(task, (ArticleTask, INALUArithmeticTask)):  # x0 ∘ x1
        return [_exact(operation(task.op).compute(list(symbols[:2]), _SympyNamespace))]
    if isinstance(task, NPUSimpleTask):
        x, y = symbols[:2]
        return [x + y, x * y, x / y, sympy.sqrt(x)]
    return None


def target_text(task: Any, seed: int) -> str | None:
    """The target as the task writes it (``sum(x[44:69]) * sum(x[57:82])``), where it has one."""
    if isinstance(task, StaticArithmeticTask):
        return task.formula(seed)
    return None


def evaluation_data(task: Any, split: str, seeds: Sequence[int], rows: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """float64 inputs ``[S or 1, N, I]`` and targets ``[S, N, O]`` of a split, first ``rows`` rows."""
    x, y = task.evaluation_set(split, list(seeds), dtype=torch.float64)
    x, y = x.cpu().numpy(), y.cpu().numpy()
    if rows is not None:
        x, y = x[..., :rows, :], y[..., :rows, :]
    return x, y


def input_symbols(n: int, data: Sequence[np.ndarray] = (), names: Sequence[str] | None = None
                  ) -> list[sympy.Symbol]:
    """Symbols for the ``n`` inputs, carrying the sign the data give each input (positive when every
    value is > 0, negative when every value is < 0, else real), so that e.g. ``|x0|`` is ``x0`` on a
    task whose inputs are positive."""
    if names is None:
        names = [f"x{i}" for i in range(n)]
    if len(names) != n:
        raise ConfigError(f"names: {len(names)} names for {n} inputs")
    out = []
    for i, name in enumerate(names):
        columns = [np.asarray(d)[..., i] for d in data if np.asarray(d).size]
        values = np.concatenate([c.ravel() for c in columns]) if columns else np.empty(0)
        if values.size and (values > 0).all():
            out.append(sympy.Symbol(name, positive=True))
        elif values.size and (values < 0).all():
            out.append(sympy.Symbol(name, negative=True))
        else:
            out.append(sympy.Symbol(name, real=True))
    return out
