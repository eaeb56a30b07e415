"""Formula read-out: what a trained unit or network computes, as an exact formula, and whether it is
the task's target (``nalm.explain``).

Exports load lazily (PEP 562): importing this package loads neither sympy nor torch; the first use
of a name does. The area is called ``formula`` rather than ``explain`` because a subpackage is bound
as an attribute of its parent on import, so ``nalm.explain`` could not stay the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nalm._lazy import lazy_exports

_LAZY_EXPORTS = {
    "Explanation": ".api",
    "explain": ".api",
    "explain_runs": ".api",
    "explain_output": ".api",
    "explain_lines": ".api",
    "describe": ".api",
    "format_expression": ".api",
    "ReadoutContext": ".readouts",
    "Term": ".readouts",
    "register_readout": ".readouts",
    "readout_for": ".readouts",
    "DEFAULT_TOLERANCE": ".snap",
    "DEFAULT_MAX_DENOMINATOR": ".snap",
}

__all__ = [
    "DEFAULT_MAX_DENOMINATOR",
    "DEFAULT_TOLERANCE",
    "Explanation",
    "ReadoutContext",
    "Term",
    "describe",
    "explain",
    "explain_lines",
    "explain_output",
    "explain_runs",
    "format_expression",
    "readout_for",
    "register_readout",
]

if TYPE_CHECKING:
    from .api import (
        Explanation,
        describe,
        explain,
        explain_lines,
        explain_output,
        explain_runs,
        format_expression,
    )
    from .readouts import ReadoutContext, Term, readout_for, register_readout
    from .snap import DEFAULT_MAX_DENOMINATOR, DEFAULT_TOLERANCE


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS)
