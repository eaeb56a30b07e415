"""``nalm.explain``: the formula a trained model has learned, snapped to exact weights and checked.

For each run: every layer is read out (:mod:`nalm.formula.readouts`) from the input symbols
``x0 … x{n−1}`` forward, each output becoming the exact expression its snapped weights compute; the
last layer's expressions are the network's formula. With a task, the formula is compared with the
task's target (:mod:`nalm.formula.targets`) twice: symbolically (the difference simplifies to 0,
under the sign the task's inputs have) and numerically (the formula evaluated in float64 on the task's
extrapolation set against the true targets). Outcomes (:data:`nalm.results.FormulaOutcome`):

* ``"exact_target"`` — every weight and gate the output depends on is within the tolerance of its
  unit's exact set, and the formula is the target;
* ``"exact_other"`` — it snaps, and is another formula (never reported as the target);
* ``"exact"`` — it snaps; no task (or a task without a symbolic target) to compare with;
* ``"not_snappable"`` — some weight or gate it depends on is not near an exact value (the reason
  names the layer, the weight, its value and its distance).

A chain of linear units (NAU → NAU, NAC₊ → NAC₊) only determines the product of its matrices: when
the layer-by-layer read-out does not snap, the chain is read as that product (snapped to integers)
and the explanation's ``note`` says so.

Where the knowledge lives: per unit kind, a read-out function in a registry keyed by unit class
(:func:`nalm.formula.register_readout`), found along the class's MRO; this module composes them and
knows no unit. Units contribute only torch-level facts they already own (their effective weights,
and ``path_gate(x)`` for the units whose gate depends on the input). sympy is imported by this
package only: ``import nalm`` and ``import nalm.units`` never load it.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import sympy
import torch
from sympy.printing.str import StrPrinter
from torch import Tensor, nn

from nalm.errors import ConfigError
from nalm.results import FormulaOutcome, RunFormula
from nalm.units import ArithmeticUnit, available_units, unit_class

from .readouts import ReadoutContext, Term, linear_matrix, readout_for, weighted_sum
from .snap import DEFAULT_MAX_DENOMINATOR, DEFAULT_TOLERANCE, snap_to_integers
from .targets import (
    evaluation_data,
    input_symbols,
    seed_dependent,
    target_expressions,
    target_text,
)

__all__ = ["Explanation", "explain", "explain_lines", "explain_output", "explain_runs", "format_expression"]

#: Rows of each evaluation set on which input-dependent gates are read.
PROBE_ROWS = 1000
#: Without a task or inputs, gates are read on these probe inputs: U[0.1, 10], fixed seed — the
#: positive domain the NALU family's multiplicative paths are meant for.
DEFAULT_PROBE_RANGE = (0.1, 10.0)
#: The formula evaluated on the extrapolation set must match the targets to this (relative to the
#: largest |target|) for "exact_target": float64 rounding only.
VERIFY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Explanation:
    """The formula one run has learned, and how it compares with the task's target.

    ``formula``: the snapped formula (sympy's syntax; several outputs as ``y0 = …; y1 = …``), None
    when not snappable. ``max_snap_distance``: the largest distance between a learned weight (or gate)
    that the outputs depend on and its exact value. ``reason``: why not snappable, or why a snapped
    formula is not the target. ``extrapolation_max_error``: the formula evaluated in float64 on the
    task's extrapolation set, max |formula − target| / max |target| (None without a task).
    ``target``: the task's target formula. ``seed``/``run``: the run; ``step``: the step the
    parameters come from, where known. ``note``: how the formula was read, where that is not layer by
    layer. ``expressions``: the sympy expressions, one per output.
    """

    outcome: FormulaOutcome
    formula: str | None
    max_snap_distance: float
    reason: str | None = None
    extrapolation_max_error: float | None = None
    target: str | None = None
    seed: int | None = None
    run: int | None = None
    step: int | None = None
    note: str | None = None
    expressions: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def recovered(self) -> bool:
        """The learned formula is the task's target (exact, and verified)."""
        return self.outcome == "exact_target"

    def record(self) -> RunFormula:
        """What the results store keeps of it."""
        return RunFormula(self.outcome, self.formula)

    def to_json(self) -> dict[str, Any]:
        def finite(v: float | None) -> float | None:
            return v if v is None or math.isfinite(v) else None

        return {
            "seed": self.seed, "run": self.run, "step": self.step, "outcome": self.outcome,
            "formula": self.formula, "target": self.target,
            "max_snap_distance": finite(self.max_snap_distance),
            "extrapolation_max_error": finite(self.extrapolation_max_error),
            "reason": self.reason, "note": self.note,
        }


# --------------------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------------------


def _natural_key(text: str) -> tuple[Any, ...]:
    parts = re.split(r"(\d+)", text.lstrip("-"))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


class _Printer(StrPrinter):
    """sympy's str printer with the terms of a sum in natural order (x2 before x10)."""

    def _as_ordered_terms(self, expr: Any, order: Any = None) -> list[Any]:
        # by the inputs a term holds (2*x1 among x0 and x2), constants last
        def key(term: Any) -> tuple[Any, ...]:
            names = sorted(_natural_key(s.name) for s in term.free_symbols)
            return (not names, names, _natural_key(StrPrinter().doprint(term)))

        return sorted(sympy.Add.make_args(expr), key=key)


def format_expression(expr: Any) -> str:
    """A sympy expression as text, sums in natural order: ``x2 + x10``, ``(x0 + x1)*(x4 + x5)``."""
    return _Printer().doprint(expr)


def _formula_text(exprs: Sequence[Any]) -> str:
    if len(exprs) == 1:
        return format_expression(exprs[0])
    return "; ".join(f"y{o} = {format_expression(e)}" for o, e in enumerate(exprs))


# --------------------------------------------------------------------------------------------------
# the model's layers
# --------------------------------------------------------------------------------------------------


def _layers(model: nn.Module) -> list[ArithmeticUnit]:
    if isinstance(model, ArithmeticUnit):
        return [model]
    if isinstance(model, nn.Sequential):
        layers = list(model)
        for k, layer in enumerate(layers):
            if not isinstance(layer, ArithmeticUnit):
                raise ConfigError(f"model: layer {k + 1} is a {type(layer).__name__}, not a nalm unit")
        if not layers:
            raise ConfigError("model: an empty nn.Sequential has no formula")
        return layers
    raise ConfigError(f"model: expected a nalm unit or an nn.Sequential of units, got {type(model).__name__}")


def _runs_of(layers: Sequence[ArithmeticUnit]) -> int | None:
    """S for a stacked model (a leading run axis on every effective weight), None for an ordinary one."""
    weights = layers[0].effective_weights()
    if not weights:
        raise ConfigError(f"model: {type(layers[0]).__name__} has no effective weights to read")
    lead = next(iter(weights.values())).shape[:-2]
    if len(lead) > 1:
        raise ConfigError(f"model: more than one run axis ({tuple(lead)})")
    return int(lead[0]) if lead else None


def _unit_names() -> dict[type, str]:
    return {cast(type, unit_class(name)): name for name in available_units()}


def _kind(layer: ArithmeticUnit, names: dict[type, str]) -> str:
    return names.get(type(layer), type(layer).__name__)


class _Activations:
    """Each layer's learned inputs on the probe rows (float64), computed once, when a gate asks."""

    def __init__(self, layers: Sequence[nn.Module], probe: Tensor) -> None:
        self.layers, self.probe = layers, probe
        self._values: list[Tensor] | None = None

    def of_layer(self, k: int, run: int | None) -> Tensor:
        if self._values is None:
            values, h = [self.probe], self.probe
            with torch.no_grad():
                for layer in self.layers[:-1]:
                    h = layer(h)
                    values.append(h)
            self._values = values
        h = self._values[k]
        return h[run] if run is not None and h.dim() == 3 else h


# --------------------------------------------------------------------------------------------------
# reading one run
# --------------------------------------------------------------------------------------------------


@dataclass
class _Options:
    tolerance: float
    max_denominator: int


def _prefix(terms: list[Term], where: str) -> list[Term]:
    return [t if t.ok else Term(None, t.distance, f"{where}: {t.reason}") for t in terms]


def _read_layers(layers: Sequence[ArithmeticUnit], run: int | None, symbols: Sequence[Any],
                 acts: _Activations, opts: _Options, merge: Sequence[tuple[int, int]] = ()) -> list[Term]:
    """The last layer's terms; ``merge`` lists (first, last) layer ranges read as one linear map."""
    names = _unit_names()
    terms = [Term(s, 0.0) for s in symbols]
    k = 0
    while k < len(layers):
        chain = next((m for m in merge if m[0] == k), None)
        if chain is not None:
            terms = _read_chain(layers, chain, run, terms, acts, opts, names)
            k = chain[1] + 1
            continue
        layer = layers[k]
        where = f"layer {k + 1} ({_kind(layer, names)})"
        readout = readout_for(layer)
        ctx = _context(run, terms, acts, k, opts)
        if readout is None:
            terms = [Term(None, math.inf, f"{where}: no formula read-out for {type(layer).__name__}")
                     for _ in range(layer.out_features)]
        else:
            terms = _prefix(readout(layer, ctx), where)
        k += 1
    return terms


def _context(run: int | None, terms: Sequence[Term], acts: _Activations, k: int, opts: _Options
             ) -> ReadoutContext:
    return ReadoutContext(run, terms, opts.tolerance, opts.max_denominator,
                          probe=lambda: acts.of_layer(k, run))


def _read_chain(layers: Sequence[ArithmeticUnit], chain: tuple[int, int], run: int | None,
                terms: list[Term], acts: _Activations, opts: _Options, names: dict[type, str]) -> list[Term]:
    first, last = chain
    ctx = _context(run, terms, acts, first, opts)
    product = np.eye(layers[first].in_features)
    for layer in layers[first:last + 1]:
        matrix_of = linear_matrix(layer)
        assert matrix_of is not None  # a chain holds linear units only (_linear_chains)
        product = matrix_of(layer, ctx) @ product
    snap = snap_to_integers(product, opts.tolerance)
    kinds = ", ".join(_kind(layer, names) for layer in layers[first:last + 1])
    where = f"layers {first + 1}–{last + 1} ({kinds}) as one linear map"
    return _prefix([weighted_sum(snap, o, "W", ctx) for o in range(snap.numerator.shape[0])], where)


def _linear_chains(layers: Sequence[ArithmeticUnit]) -> list[tuple[int, int]]:
    chains, start = [], None
    for k, layer in enumerate([*layers, None]):
        if layer is not None and linear_matrix(layer) is not None:
            start = k if start is None else start
            continue
        if start is not None and k - 1 > start:
            chains.append((start, k - 1))
        start = None
    return chains


def _equal(a: Any, b: Any) -> bool:
    """Whether ``a − b`` simplifies to 0 (cheap rewrites first: most formulas are polynomials)."""
    d = a - b
    if d == 0:
        return True
    for rewrite in (sympy.expand, sympy.cancel, sympy.simplify):
        try:
            if rewrite(d) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError, sympy.PolynomialError):
            continue
    return False


def _evaluate(exprs: Sequence[Any], symbols: Sequence[Any], x: np.ndarray) -> np.ndarray:
    """The formula on rows ``x`` ``[N, I]`` in float64, ``[N, O]``."""
    columns = [x[:, i] for i in range(x.shape[1])]
    out = []
    with np.errstate(all="ignore"):
        for e in exprs:
            f = sympy.lambdify(symbols, e, modules="numpy")
            value = np.asarray(f(*columns), dtype=np.complex128)
            real = np.where(np.abs(value.imag) > 0, np.nan, value.real)
            out.append(np.broadcast_to(real, (x.shape[0],)))
    return np.stack(out, axis=-1)


def _relative_error(pred: np.ndarray, y: np.ndarray) -> float:
    scale = float(np.max(np.abs(y))) if y.size else 0.0
    err = np.abs(pred - y)
    if not np.isfinite(err).all():
        return math.inf
    worst = float(err.max()) if err.size else 0.0
    return worst / scale if scale > 0 else worst


def _one_run(layers: Sequence[ArithmeticUnit], run: int | None, symbols: Sequence[Any], acts: _Activations,
             opts: _Options, task: Any, seed: int, extrapolation: tuple[np.ndarray, np.ndarray] | None,
             report_seed: int | None, step: int | None) -> Explanation:
    terms = _read_layers(layers, run, symbols, acts, opts)
    note = None
    if not all(t.ok for t in terms):
        chains = _linear_chains(layers)
        if chains:
            merged = _read_layers(layers, run, symbols, acts, opts, merge=chains)
            if all(t.ok for t in merged):
                first_reason = next(t.reason for t in terms if not t.ok)
                spans = ", ".join(f"layers {a + 1}–{b + 1}" for a, b in chains)
                note = (f"{spans} read as one linear map (the product of their weights, which is what "
                        f"the function determines); layer by layer they do not snap: {first_reason}")
                terms = merged
    distance = max((t.distance for t in terms), default=0.0)
    target = target_text(task, seed) if task is not None else None

    def result(outcome: FormulaOutcome, formula: str | None, reason: str | None = None,
               error: float | None = None, exprs: tuple[Any, ...] = ()) -> Explanation:
        return Explanation(outcome, formula, distance, reason, error, target, seed=report_seed, run=run,
                           step=step, note=note, expressions=exprs)

    if not all(t.ok for t in terms):
        return result("not_snappable", None, next(t.reason for t in terms if not t.ok))
    exprs = tuple(t.expr for t in terms)
    formula = _formula_text(exprs)
    error = None
    if extrapolation is not None:
        x, y = extrapolation
        error = _relative_error(_evaluate(exprs, symbols, x), y)
    targets = target_expressions(task, seed, symbols) if task is not None else None
    if targets is None:
        return result("exact", formula, None, error, exprs)
    if target is None:
        target = _formula_text(targets)
    if len(targets) != len(exprs):
        return result("exact_other", formula, f"{len(exprs)} outputs, the task has {len(targets)}", error, exprs)
    differing = [o for o, (e, t) in enumerate(zip(exprs, targets)) if not _equal(e, t)]
    if differing:
        o = differing[0]
        which = "" if len(exprs) == 1 else f"output {o}: "
        reason = f"{which}{format_expression(exprs[o])} is not the target {format_expression(targets[o])}"
        return result("exact_other", formula, reason, error, exprs)
    if error is not None and not error <= VERIFY_TOLERANCE:
        reason = (f"equal to the target symbolically, but not on the extrapolation rows (max relative "
                  f"error {error:.3g})")
        return result("exact_other", formula, reason, error, exprs)
    return result("exact_target", formula, None, error, exprs)


# --------------------------------------------------------------------------------------------------
# the API
# --------------------------------------------------------------------------------------------------


def _is_train_output(obj: Any) -> bool:
    return hasattr(obj, "runs") and hasattr(obj, "selected_model") and hasattr(obj, "model")


def explain_runs(
    model: Any,
    task: Any = None,
    *,
    seeds: Sequence[int] | None = None,
    steps: Sequence[int | None] | None = None,
    inputs: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
    names: Sequence[str] | None = None,
) -> list[Explanation]:
    """One :class:`Explanation` per run of ``model`` (an ordinary model is one run); see :func:`explain`."""
    if _is_train_output(model):
        out = model
        return explain_output(out, task, inputs=inputs, tolerance=tolerance,
                              max_denominator=max_denominator, names=names)
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ConfigError(f"tolerance: must be a finite number >= 0, got {tolerance}")
    layers = _layers(model)
    runs = _runs_of(layers)
    count = 1 if runs is None else runs
    if seeds is not None and len(seeds) != count:
        raise ConfigError(f"seeds: {len(seeds)} seeds for {count} runs")
    if task is not None and seeds is None and seed_dependent(task):
        raise ConfigError("seeds: the task's target depends on the run's seed (its subsets sit at a "
                          "seed-dependent offset); pass seeds=")
    data_seeds = list(seeds) if seeds is not None else [0] * count
    n_in = layers[0].in_features

    probe_sets: list[np.ndarray] = []
    extrapolation_x = extrapolation_y = None
    if inputs is not None:
        arr = np.asarray(inputs.detach().cpu() if isinstance(inputs, Tensor) else inputs, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != n_in:
            raise ConfigError(f"inputs: expected rows of {n_in} inputs, got shape {arr.shape}")
        probe_sets.append(arr)
    if task is not None:
        if getattr(task, "in_features", n_in) != n_in:
            raise ConfigError(f"task: {task.in_features} inputs, the model has {n_in}")
        xi, _ = evaluation_data(task, "interpolation", data_seeds)
        extrapolation_x, extrapolation_y = evaluation_data(task, "extrapolation", data_seeds)
        if inputs is None:
            probe_sets += [xi[0, :PROBE_ROWS], extrapolation_x[0, :PROBE_ROWS]]
        sign_data = [xi, extrapolation_x]
    else:
        sign_data = probe_sets[:1]
    if not probe_sets:
        rng = np.random.default_rng(20261202)
        probe_sets.append(rng.uniform(*DEFAULT_PROBE_RANGE, size=(PROBE_ROWS, n_in)))
    symbols = input_symbols(n_in, sign_data, names)

    model64 = copy.deepcopy(model).to(torch.float64).eval()
    layers64 = _layers(model64)
    probe = torch.from_numpy(np.concatenate(probe_sets))
    acts = _Activations(layers64, probe)
    opts = _Options(float(tolerance), int(max_denominator))
    out = []
    for index in range(count):
        run = None if runs is None else index
        extrapolation = None
        if extrapolation_x is not None and extrapolation_y is not None:
            x = extrapolation_x[index] if extrapolation_x.shape[0] > 1 else extrapolation_x[0]
            extrapolation = (x, extrapolation_y[index])
        out.append(_one_run(
            layers64, run, symbols, acts, opts, task, data_seeds[index], extrapolation,
            None if seeds is None else int(seeds[index]), None if steps is None else steps[index],
        ))
    return out


def explain(
    model_or_unit: Any,
    task: Any = None,
    *,
    seeds: Sequence[int] | None = None,
    inputs: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
    names: Sequence[str] | None = None,
) -> Explanation | list[Explanation]:
    """The formula a unit or model has learned: one :class:`Explanation`, or one per run for a
    stacked model ``[S, ...]`` or a :class:`~nalm.training.TrainOutput` (its runs' parameters at their
    selected steps).

    ``task``: compare with its target (symbolically and on its extrapolation set) and read gates on
    its evaluation inputs; the symbols carry the sign of its inputs. ``seeds``: the runs' seeds, needed
    when the task's target depends on them (static task with distractor inputs; a ``TrainOutput``
    supplies them). ``inputs``: rows ``[N, in]`` to read input-dependent gates on (and take the
    inputs' signs from) instead of the task's; without both, gates are read on U[0.1, 10].
    ``tolerance``: largest distance of a weight or gate from its exact value (:data:`DEFAULT_TOLERANCE`);
    ``max_denominator``: NPU exponents are multiples of 1/k, k up to this. ``names``: input names
    (default ``x0``, ``x1``, …).
    """
    results = explain_runs(model_or_unit, task, seeds=seeds, inputs=inputs, tolerance=tolerance,
                           max_denominator=max_denominator, names=names)
    if _is_train_output(model_or_unit):
        return results
    layers = _layers(model_or_unit)
    return results if _runs_of(layers) is not None else results[0]


def explain_output(out: Any, task: Any, **options: Any) -> list[Explanation]:
    """One :class:`Explanation` per run of a :class:`~nalm.training.TrainOutput`, from each run's
    parameters at its selected step (the step its scores come from)."""
    model = out.selected_model()
    seeds = [run.seed for run in out.runs]
    steps = [run.parameters.selected_step if run.parameters is not None else None for run in out.runs]
    return explain_runs(model, task, seeds=seeds, steps=steps, **options)


def describe(e: Explanation) -> str:
    """One line: ``seed 3: y = x0 + x1 — the task's target, exact on every extrapolation row (max snap
    distance 2.1e-06)``; without a seed or run, the same without its ``seed 3:``."""
    who = f"seed {e.seed}: " if e.seed is not None else (f"run {e.run}: " if e.run is not None else "")
    distance = f"max snap distance {e.max_snap_distance:.2g}"
    if e.outcome == "not_snappable":
        return f"{who}no exact formula ({distance}): {e.reason}"
    if e.outcome == "exact_target":
        verdict = "the task's target, exact on every extrapolation row"
    elif e.outcome == "exact_other":
        verdict = f"NOT the task's target ({e.reason})"
    else:
        verdict = "an exact formula"
    line = f"{who}y = {e.formula} — {verdict} ({distance})"
    return line + (f"; note: {e.note}" if e.note else "")


def explain_lines(out: Any, task: Any, spec: Any = None, *, solved_only: bool = True,
                  **options: Any) -> list[str]:
    """Lines for ``nalm train``/``nalm demo``: the formula each (solved) run learned, one per run.

    ``out``: a :class:`~nalm.training.TrainOutput`; ``task``: its task; ``spec`` is accepted for
    symmetry with the trainer's call and not needed (the output holds the model). With
    ``solved_only`` only runs counted as solved are listed, each saying whether its formula is the
    task's target — a solved run whose formula is not the target is a finding, and says why.
    """
    del spec
    runs = out.runs
    chosen = [i for i, r in enumerate(runs) if r.solved or not solved_only]
    if not chosen:
        return ["no solved seed to explain" if solved_only else "no run to explain"]
    results = explain_output(out, task, **options)
    return [describe(results[i]) for i in chosen]
