"""The arithmetic operations of the benchmark tasks: one table, shared by the tasks, the metrics, the
CLI and the suite schema.

Each :class:`Operation` says which subsets it uses, how its target reads as text, and how it is
computed from the float64 subset sums. The computation is written once for both array libraries: it
takes the operands and the array namespace (``numpy`` or ``torch``) to use. The static task computes
its evaluation targets with ``numpy`` and its training targets with ``torch``; the threshold
simulation (:mod:`nalm.metrics`) uses ``numpy``. Operands are combined left to right (``add``/``mul``
over every subset), so every caller rounds the same way.

Torch-free and numpy-free on purpose: the CLI validates ``--op`` against :data:`OPS` without loading
either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

from nalm.errors import ConfigError


def _add(z: Sequence[Any], xp: Any) -> Any:
    out = z[0]
    for k in range(1, len(z)):
        out = out + z[k]
    return out


def _sub(z: Sequence[Any], xp: Any) -> Any:
    return z[0] - z[1]


def _mul(z: Sequence[Any], xp: Any) -> Any:
    out = z[0]
    for k in range(1, len(z)):
        out = out * z[k]
    return out


def _div(z: Sequence[Any], xp: Any) -> Any:
    return z[0] / z[1]


def _reciprocal(z: Sequence[Any], xp: Any) -> Any:
    return 1.0 / z[0]


def _squared(z: Sequence[Any], xp: Any) -> Any:
    return z[0] * z[0]


def _root(z: Sequence[Any], xp: Any) -> Any:
    return xp.sqrt(z[0])


Magnitude = tuple[Fraction, Fraction]  # (smallest, largest) |operand|, exact


def _add_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return sum((hi for _, hi in m), Fraction(0))


def _sub_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return m[0][1] + m[1][1]


def _mul_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return math.prod((hi for _, hi in m), start=Fraction(1))


def _div_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return None if m[1][0] == 0 else m[0][1] / m[1][0]


def _reciprocal_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return None if m[0][0] == 0 else 1 / m[0][0]


def _squared_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return m[0][1] * m[0][1]


def _root_bound(m: Sequence[Magnitude]) -> Fraction | None:
    return Fraction(math.isqrt(math.ceil(m[0][1])) + 1)  # integer square root, rounded up


@dataclass(frozen=True)
class Operation:
    """One operation of the static task.

    ``arity``: the subsets it uses — 1 (``a``), 2 (``a`` and ``b``), or None (every subset, combined
    left to right). ``formula``: the target as text over ``{a}`` and ``{b}``; an operation on every
    subset joins all operands with ``join`` instead (``formula`` is then its two-subset case).
    ``compute(operands, xp)``: the target from the subset sums (arrays of one shape) with the array
    namespace ``xp`` (``numpy`` or ``torch``). ``bound(magnitudes)``: an upper bound of ``|target|``
    from each operand's exact ``(smallest, largest)`` absolute value, None when it is unbounded (a
    denominator that can be 0); the tasks use it to check that a dtype can hold the target's loss.
    """

    name: str
    arity: int | None
    formula: str
    compute: Callable[[Sequence[Any], Any], Any]
    bound: Callable[[Sequence[Magnitude]], Fraction | None]
    join: str | None = None

    def text(self, operands: Sequence[str]) -> str:
        """The target written over ``operands`` (one text per subset, ``a`` first)."""
        if self.join is not None:
            return self.join.join(operands)
        return self.formula.format(a=operands[0], b=operands[1] if len(operands) > 1 else None)


#: Every operation of the static task (Madsen & Johansen 2020), in the papers' order.
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("add", None, "{a} + {b}", _add, _add_bound, join=" + "),
        Operation("sub", 2, "{a} - {b}", _sub, _sub_bound),
        Operation("mul", None, "{a} * {b}", _mul, _mul_bound, join=" * "),
        Operation("div", 2, "{a} / {b}", _div, _div_bound),
        Operation("squared", 1, "({a})**2", _squared, _squared_bound),
        Operation("root", 1, "sqrt({a})", _root, _root_bound),
        # Heim et al.'s large-scale "div" and Mistry et al.'s division by small numbers: 1/a
        Operation("reciprocal", 1, "1 / ({a})", _reciprocal, _reciprocal_bound),
    )
}


def operation(name: str) -> Operation:
    """The table's entry for ``name``; :class:`ConfigError` for an unknown operation."""
    try:
        return OPERATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"op: unknown operation {name!r}") from None


#: The names of every operation, in the papers' order.
OPS: tuple[str, ...] = tuple(OPERATIONS)

#: Operations that use the second subset ``b`` (``add`` and ``mul`` use every subset; ``squared``
#: and ``root`` only ``a``).
BINARY_OPS = frozenset(name for name, op in OPERATIONS.items() if op.arity == 2)

#: Operations that use only the first subset ``a``.
UNARY_OPS = frozenset(name for name, op in OPERATIONS.items() if op.arity == 1)

#: The operations of the Primer's single-module benchmark (Mistry et al. 2022).
PRIMER_OPS: tuple[str, ...] = ("add", "sub", "mul", "div")

#: The operations of the recurrent arithmetic task (stable-nalu's ``simple_function_recurrent.py``).
RECURRENT_OPS: tuple[str, ...] = ("add", "sub", "mul", "div", "squared", "root")

#: The operations of the TensorFlow article's two demos.
ARTICLE_OPS: tuple[str, ...] = ("add", "mul")
