"""Per unit kind, the read-out: from a unit's weights to one exact expression per output.

The registry maps unit classes to read-out functions (:func:`register_readout`); a unit's read-out is
found along its class's MRO, so a subclass that computes the same formula (sNMU of the NMU, G-NALU of
the NALU) needs no entry. A read-out gets the unit and a :class:`ReadoutContext` (which run of a stacked
unit, the unit's inputs as :class:`Term`\\ s, its learned inputs on probe rows, the tolerance) and
returns one :class:`Term` per output: the exact sympy expression in the inputs' expressions, or None
with the reason it does not snap, and the largest snap distance among the weights (and gates) the
output depends on — a weight whose input is never used (selected by 0) does not count, nor does an
unsnappable input that is not used.

What each unit snaps to (its exact set) and the formula it then computes, with ``in_i`` the inputs:

============================  ==============================================  ===========================
unit                          exact set                                       formula of output o
============================  ==============================================  ===========================
NAC₊, NAU                     W ∈ {−1, 0, 1}                                  Σ W[o,i]·in_i
NAC•                          W ∈ integers (so {−1, 0, 1})                    Π |in_i|^W[o,i]
NAC•,σ, NAC•,NMU              W ∈ integers ({0, 1})                           Π |in_i|^W[o,i]
NMU, sNMU                     W ∈ {0, 1}                                      Π in_i^W[o,i]
NRU                           W ∈ {−1, 0, 1}                                  Π in_i^W[o,i]
NMRU                          W ∈ {0, 1} (x and 1/x columns)                  Π in_i^(W[o,i] − W[o,I+i])
NALU, G-NALU                  gate g_o ∈ {0, 1} on every probe row; W as NAC  g=1: NAC₊ path; g=0: NAC•
iNALU                         gate σ(g_o) ∈ {0, 1}; W_a, W_m ∈ {−1, 0, 1}    g=1: Σ W_a·in; g=0: Π in^W_m
gated NAU/NMU                 gate ∈ {0, 1} on every probe row                g=1: NAU path; g=0: NMU path
NPU, RealNPU, NaiveNPU        gate ĝ_i ∈ {0, 1}; W_re ∈ multiples of 1/k      Π_(ĝ_i=1) in_i^W_re (real
                              (k ≤ ``max_denominator``); W_im = 0             part for negative in_i)
Linear, ReLU, ReLU6           W, b ∈ integers                                 Σ W·in + b, then max(0, ·)
                                                                              and min(·, 6)
============================  ==============================================  ===========================

Numerical guards are not part of the formula: NAC•'s and the NPU's ε, iNALU's log floor and exponent
cap, NMRU's training-mode ε. The NALU family's multiplicative path computes magnitudes (``|in|``): the
formula says so, and it equals the signed product only where the inputs' signs allow (the symbols
carry the task's sign, so on a positive task ``|x0|·|x1|`` *is* ``x0·x1``).

The baselines are snapped to integer weights and bias (an affine map with integer coefficients is an
exact formula, and a Linear layer can learn one); nothing pulls them there, so they rarely snap.

Units that are one linear map (NAC₊, NAU) also register it (``linear=``): a chain of them computes
only the product of its matrices, which is what the function determines — the factors can split a
weight between hidden units (0.5 + 0.5) and still be exact. :mod:`nalm.formula.api` reads such a
chain as its product when the layer-by-layer read-out does not snap.

Adding a unit: its file, its registry line and its test (``nalm/units/registry.py``), and — for its
formula to be read — one ``@register_readout(MyUnit)`` function here or in your own code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
import torch
from torch import Tensor

from nalm.units import (
    INALU,
    NAC,
    NALU,
    NAU,
    NMRU,
    NMU,
    NRU,
    GatedNAUNMU,
    Linear,
    NACMul,
    NACMulNMU,
    NACMulSigma,
    ReLU,
    ReLU6,
)
from nalm.units.npu import _PowerUnit

from .snap import Snap, snap_gate, snap_to_fractions, snap_to_integers, snap_to_set

__all__ = [
    "ReadoutContext",
    "Term",
    "linear_matrix",
    "readout_for",
    "register_readout",
]

SIGNED = (-1, 0, 1)
UNIT_INTERVAL = (0, 1)


@dataclass(frozen=True)
class Term:
    """One value of the network as read out: ``expr`` (sympy) when it snaps, else None and ``reason``;
    ``distance`` is the largest snap distance among the weights and gates it depends on."""

    expr: Any
    distance: float
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.expr is not None


@dataclass
class ReadoutContext:
    """What a read-out needs besides the unit.

    ``run``: the run of a stacked unit (None for an ordinary one); ``inputs``: the unit's inputs as
    terms; ``tolerance``, ``max_denominator``: see :mod:`nalm.formula.snap`; ``probe``: gives the
    unit's learned inputs on the probe rows (computed on first use; see :attr:`activations`).
    """

    run: int | None
    inputs: Sequence[Term]
    tolerance: float
    max_denominator: int
    probe: Callable[[], Tensor] = field(default=lambda: torch.empty(0, 0, dtype=torch.float64), repr=False)

    @property
    def activations(self) -> Tensor:
        """The unit's learned inputs on the probe rows, float64 ``[N, in]`` (what input-dependent gates
        are read on); computed by the caller only when a read-out asks."""
        return self.probe()

    def array(self, tensor: Tensor) -> np.ndarray:
        """This run's slice of ``tensor`` as float64 numpy."""
        t = tensor.detach()
        if self.run is not None:
            t = t[self.run]
        return t.to(torch.float64).cpu().numpy()


ReadoutFn = Callable[[Any, ReadoutContext], list[Term]]
LinearFn = Callable[[Any, ReadoutContext], np.ndarray]

_READOUTS: dict[type, ReadoutFn] = {}
_LINEAR: dict[type, LinearFn] = {}


def register_readout(
    unit_class: type, *, linear: LinearFn | None = None
) -> Callable[[ReadoutFn], ReadoutFn]:
    """Register ``fn(unit, context) -> list[Term]`` as the read-out of ``unit_class`` (and its
    subclasses without their own). ``linear(unit, context)``: for a unit that is one linear map
    ``y = x Mᵀ``, its matrix M (float64 ``[out, in]``)."""

    def decorate(fn: ReadoutFn) -> ReadoutFn:
        _READOUTS[unit_class] = fn
        if linear is not None:
            _LINEAR[unit_class] = linear
        return fn

    return decorate


def _lookup(table: dict[type, Any], unit: Any) -> Any:
    for cls in (unit if isinstance(unit, type) else type(unit)).__mro__:
        if cls in table:
            return table[cls]
    return None


def readout_for(unit: Any) -> ReadoutFn | None:
    """The registered read-out of a unit (or unit class): the nearest along its MRO, or None."""
    return _lookup(_READOUTS, unit)


def linear_matrix(unit: Any) -> LinearFn | None:
    """For a unit (or class) that is one linear map, the function giving its matrix; else None."""
    return _lookup(_LINEAR, unit)


# --------------------------------------------------------------------------------------------------
# building blocks: one output from a row of snapped weights
# --------------------------------------------------------------------------------------------------


def _fail(distance: float, reason: str) -> Term:
    return Term(None, float(distance), reason)


def _row_failure(snap: Snap, o: int, name: str, tolerance: float, used: np.ndarray | None = None) -> Term | None:
    """The output's failure when a weight of row ``o`` (among ``used`` columns) does not snap."""
    bad = ~snap.ok[o] if used is None else (~snap.ok[o] & used)
    if not bad.any():
        return None
    i = int(np.argmax(np.where(bad, snap.distance[o], -np.inf)))
    return _fail(snap.distance[o][bad].max(), snap.failure((o, i), name, tolerance))


def _input_failure(inputs: Sequence[Term], used: Sequence[int], what: str) -> Term | None:
    for i in used:
        if not inputs[i].ok:
            return _fail(inputs[i].distance, f"{what} uses input {i}, which does not snap: {inputs[i].reason}")
    return None


def _distance(snap: Snap, o: int, used_cols: np.ndarray, inputs: Sequence[Term], used: Sequence[int],
              extra: float = 0.0) -> float:
    own = snap.distance[o][used_cols]
    return max([extra, *(float(d) for d in own), *(inputs[i].distance for i in used)])


def weighted_sum(snap: Snap, o: int, name: str, ctx: ReadoutContext, *, bias: Any = 0,
                 extra_distance: float = 0.0) -> Term:
    """``Σ_i W[o,i]·in_i (+ bias)`` from the snapped row ``o``; a zero weight leaves its input unused."""
    failed = _row_failure(snap, o, name, ctx.tolerance)
    if failed is not None:
        return failed
    used = [i for i in range(snap.numerator.shape[1]) if not snap.is_zero((o, i))]
    failed = _input_failure(ctx.inputs, used, f"output {o}")
    if failed is not None:
        return failed
    expr = sympy.Add(bias, *(sympy.Rational(snap.fraction((o, i))) * ctx.inputs[i].expr for i in used))
    all_cols = np.ones(snap.numerator.shape[1], dtype=bool)
    return Term(expr, _distance(snap, o, all_cols, ctx.inputs, used, extra_distance))


def power_product(snap: Snap, o: int, name: str, ctx: ReadoutContext, *, magnitude: bool,
                  exponents: Sequence[sympy.Rational] | None = None, extra_distance: float = 0.0) -> Term:
    """``Π_i in_i^e_i`` (``|in_i|^e_i`` with ``magnitude``) from the snapped row ``o``; exponents
    default to the row itself (``exponents`` overrides them, e.g. NMRU's x and 1/x columns)."""
    failed = _row_failure(snap, o, name, ctx.tolerance)
    if failed is not None:
        return failed
    if exponents is None:
        exponents = [sympy.Rational(snap.fraction((o, i))) for i in range(snap.numerator.shape[1])]
    used = [i for i, e in enumerate(exponents) if e != 0]
    failed = _input_failure(ctx.inputs, used, f"output {o}")
    if failed is not None:
        return failed
    factors = [(sympy.Abs(ctx.inputs[i].expr) if magnitude else ctx.inputs[i].expr) ** exponents[i]
               for i in used]
    all_cols = np.ones(snap.numerator.shape[1], dtype=bool)
    return Term(sympy.Mul(*factors), _distance(snap, o, all_cols, ctx.inputs, used, extra_distance))


def _gated(gate: tuple[int | None, float, str], o: int, ctx: ReadoutContext, on: Callable[[], Term],
           off: Callable[[], Term], what: str) -> Term:
    """Output ``o`` of a gated unit: the path the gate snaps to, its distance counted."""
    state, distance, text = gate
    if state is None:
        return _fail(distance, f"output {o}: gate {text} on the probe inputs, not within "
                               f"{ctx.tolerance:g} of 0 or 1 ({what})")
    term = on() if state == 1 else off()
    return Term(term.expr, max(term.distance, distance), term.reason)


def _gate_values(unit: Any, ctx: ReadoutContext) -> np.ndarray:
    """``unit.path_gate`` on this run's probe activations, ``[N, O]``."""
    return ctx.array(unit.path_gate(ctx.activations))


# --------------------------------------------------------------------------------------------------
# the read-outs
# --------------------------------------------------------------------------------------------------


def _signed_matrix(unit: Any, ctx: ReadoutContext) -> np.ndarray:
    return ctx.array(unit.weight)


@register_readout(NAC, linear=_signed_matrix)
@register_readout(NAU, linear=_signed_matrix)
def _sum_unit(unit: Any, ctx: ReadoutContext) -> list[Term]:
    snap = snap_to_set(ctx.array(unit.weight), SIGNED, ctx.tolerance, "{−1, 0, 1}")
    return [weighted_sum(snap, o, "W", ctx) for o in range(unit.out_features)]


@register_readout(NACMul)
@register_readout(NACMulSigma)
def _log_space_unit(unit: Any, ctx: ReadoutContext) -> list[Term]:
    # W ∈ (−1, 1) (NAC•) or (0, 1) (NAC•,σ): the nearest integer is already in the reachable set.
    snap = snap_to_integers(ctx.array(unit.weight), ctx.tolerance)
    return [power_product(snap, o, "W", ctx, magnitude=True) for o in range(unit.out_features)]


@register_readout(NACMulNMU)
def _log_space_unit_interval(unit: Any, ctx: ReadoutContext) -> list[Term]:
    snap = snap_to_set(ctx.array(unit.weight), UNIT_INTERVAL, ctx.tolerance, "{0, 1}")
    return [power_product(snap, o, "W", ctx, magnitude=True) for o in range(unit.out_features)]


@register_readout(NMU)
def _product_unit(unit: Any, ctx: ReadoutContext) -> list[Term]:
    snap = snap_to_set(ctx.array(unit.weight), UNIT_INTERVAL, ctx.tolerance, "{0, 1}")
    return [power_product(snap, o, "W", ctx, magnitude=False) for o in range(unit.out_features)]


@register_readout(NRU)
def _reciprocal_unit(unit: Any, ctx: ReadoutContext) -> list[Term]:
    # W = 1: x, W = −1: 1/x (sign kept, in both the plain and the sep_sign variant), W = 0: 1.
    snap = snap_to_set(ctx.array(unit.weight), SIGNED, ctx.tolerance, "{−1, 0, 1}")
    return [power_product(snap, o, "W", ctx, magnitude=False) for o in range(unit.out_features)]


@register_readout(NMRU)
def _reciprocal_concat_unit(unit: Any, ctx: ReadoutContext) -> list[Term]:
    # Column i selects x_i, column I+i selects 1/x_i (signs recovered exactly for W ∈ {0, 1}); both
    # selected is x·(1/x) = 1.
    snap = snap_to_set(ctx.array(unit.weight), UNIT_INTERVAL, ctx.tolerance, "{0, 1}")
    n = unit.in_features
    out = []
    for o in range(unit.out_features):
        exps = [sympy.Integer(int(snap.numerator[o, i]) - int(snap.numerator[o, n + i])) for i in range(n)]
        term = power_product(snap, o, "W", ctx, magnitude=False, exponents=exps)
        out.append(term)
    return out


@register_readout(NALU)
def _nalu(unit: Any, ctx: ReadoutContext) -> list[Term]:
    # G-NALU inherits: its weight, weight_mul and path_gate are the φ-scaled ones.
    gates = _gate_values(unit, ctx)
    add = snap_to_set(ctx.array(unit.weight), SIGNED, ctx.tolerance, "{−1, 0, 1}")
    mul = add if unit.shared_weights else snap_to_integers(ctx.array(unit.weight_mul), ctx.tolerance)
    mul_name = "W" if unit.shared_weights else "W_mul"
    return [
        _gated(
            snap_gate(gates[..., o], ctx.tolerance), o, ctx,
            lambda o=o: weighted_sum(add, o, "W", ctx),
            lambda o=o: power_product(mul, o, mul_name, ctx, magnitude=True),
            "σ(x Gᵀ) mixes the additive and the multiplicative path",
        )
        for o in range(unit.out_features)
    ]


@register_readout(INALU)
def _inalu(unit: Any, ctx: ReadoutContext) -> list[Term]:
    # Input-independent gate σ(g); the multiplicative path with its sign correction is Π in^W_m for
    # W_m ∈ {−1, 0, 1} (|x|^W · sign(x)^|W|).
    gate = 1.0 / (1.0 + np.exp(-ctx.array(unit.g)))
    add = snap_to_set(ctx.array(unit.weight_add), SIGNED, ctx.tolerance, "{−1, 0, 1}")
    mul = snap_to_set(ctx.array(unit.weight_mul), SIGNED, ctx.tolerance, "{−1, 0, 1}")
    return [
        _gated(
            snap_gate(gate[o], ctx.tolerance), o, ctx,
            lambda o=o: weighted_sum(add, o, "W_a", ctx),
            lambda o=o: power_product(mul, o, "W_m", ctx, magnitude=False),
            "γ = σ(g) mixes the two paths",
        )
        for o in range(unit.out_features)
    ]


@register_readout(GatedNAUNMU)
def _gated_nau_nmu(unit: Any, ctx: ReadoutContext) -> list[Term]:
    gates = _gate_values(unit, ctx)
    add = snap_to_set(ctx.array(unit.W_add.clamp(-1.0, 1.0)), SIGNED, ctx.tolerance, "{−1, 0, 1}")
    mul = snap_to_set(ctx.array(unit.W_mul), UNIT_INTERVAL, ctx.tolerance, "{0, 1}")
    return [
        _gated(
            snap_gate(gates[..., o], ctx.tolerance), o, ctx,
            lambda o=o: weighted_sum(add, o, "W_add", ctx),
            lambda o=o: power_product(mul, o, "W_mul", ctx, magnitude=False),
            "σ(x Gᵀ) mixes the NAU and the NMU path",
        )
        for o in range(unit.out_features)
    ]


@register_readout(_PowerUnit)
def _power_unit(unit: Any, ctx: ReadoutContext) -> list[Term]:
    """NPU, RealNPU, NaiveNPU: ``Re Π r_i^(W_re + i W_im)`` with r the gated input.

    With ĝ_i ∈ {0, 1} (0 replaces the input by 1) and W_im = 0 the output is
    ``Π |in_i|^p_i · cos(π Σ p_i·[in_i < 0])``: for an integer p the factor is in_i^p (sign included),
    for a fractional p the cosine keeps the real part of the complex power of a negative input.
    """
    n, tol = unit.in_features, ctx.tolerance
    if unit._gated:
        gate_values = np.clip(ctx.array(unit.g), 0.0, 1.0)
        gates = [snap_gate(gate_values[i], tol) for i in range(n)]
    else:
        gates = [(1, 0.0, "1") for _ in range(n)]
    W_re = snap_to_fractions(ctx.array(unit.W_re), ctx.max_denominator, tol)
    W_im = snap_to_set(ctx.array(unit.W_im), (0,), tol, "{0}") if unit._complex else None
    out = []
    for o in range(unit.out_features):
        out.append(_power_output(unit, ctx, o, gates, W_re, W_im))
    return out


def _power_output(unit: Any, ctx: ReadoutContext, o: int, gates: list[tuple[int | None, float, str]],
                  W_re: Snap, W_im: Snap | None) -> Term:
    tol = ctx.tolerance
    used_cols = np.zeros(unit.in_features, dtype=bool)
    distance = 0.0
    for i, (state, gate_distance, text) in enumerate(gates):
        if state is None:
            # an input half let through: r = ĝ·|x| + 1 − ĝ is no power of x
            return _fail(gate_distance, f"output {o}: gate g[{i}] = {text}, not within {tol:g} of 0 or 1 "
                                        "(the input is mixed with the constant 1)")
        distance = max(distance, gate_distance)
        used_cols[i] = state == 1
    for snap, name in ((W_re, "W_re"), (W_im, "W_im")):
        if snap is not None:
            failed = _row_failure(snap, o, name, tol, used_cols)
            if failed is not None:
                return failed
            distance = max(distance, *(float(d) for d in snap.distance[o][used_cols]), 0.0)
    exponents = {i: sympy.Rational(W_re.fraction((o, i))) for i in np.flatnonzero(used_cols)}
    exponents = {i: p for i, p in exponents.items() if p != 0}
    failed = _input_failure(ctx.inputs, list(exponents), f"output {o}")
    if failed is not None:
        return failed
    distance = max([distance, *(ctx.inputs[i].distance for i in exponents)])
    factors, fractional_signs = [], []
    for i, p in exponents.items():
        e = ctx.inputs[i].expr
        if p.is_integer:
            factors.append(e**p)
        else:
            factors.append(sympy.Abs(e) ** p)
            fractional_signs.append(p * sympy.Heaviside(-e, 0))
    if fractional_signs:
        factors.append(sympy.cos(sympy.pi * sympy.Add(*fractional_signs)))
    return Term(sympy.Mul(*factors), distance)


@register_readout(Linear)
@register_readout(ReLU)
@register_readout(ReLU6)
def _affine(unit: Any, ctx: ReadoutContext) -> list[Term]:
    W = snap_to_integers(ctx.array(unit.weight), ctx.tolerance)
    b = snap_to_integers(ctx.array(unit.bias), ctx.tolerance)
    out = []
    for o in range(unit.out_features):
        if not b.ok[o]:
            out.append(_fail(b.distance[o], b.failure(o, "b", ctx.tolerance)))
            continue
        term = weighted_sum(W, o, "W", ctx, bias=sympy.Integer(int(b.numerator[o])),
                            extra_distance=float(b.distance[o]))
        if term.ok and isinstance(unit, (ReLU, ReLU6)):
            expr = sympy.Max(0, term.expr)
            term = Term(sympy.Min(expr, 6) if isinstance(unit, ReLU6) else expr, term.distance)
        out.append(term)
    return out
