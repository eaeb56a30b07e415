"""Scoring learning curves as Madsen & Johansen do: the selected step, success, solved-at.

Selected step = best interpolation (validation) error over the last 5 000 logged points; success = test
(extrapolation) MSE at that step strictly under the threshold; solved-at = first logged step under it.
Everything is vectorised over a leading run axis.

``selection="final"`` scores the last logged point instead, as the iNALU reference does (Schlör et al.
2020, ``results.py``: the last line of each run's log); see :data:`SELECTIONS`.

A policy may instead count a run whose MSE *equals* the threshold (``<=``: Mistry et al. 2021's
division-by-small-numbers script, whose threshold is the gold weights' own MSE plus float32 ε; see
:data:`nalm.policies.INCLUSIVE_POLICIES`). Such a threshold is handed to the scoring as
:func:`strict_bound` of it, so the strict test above applies the ``<=`` rule exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor, nn

from nalm.results import LearningCurve, RunResult, RunStatus
from nalm.stats import wilson_interval
from nalm.units.sparsity import sparsity_error as _sparsity_error

__all__ = [
    "SELECTION_WINDOW",
    "SELECTIONS",
    "SUCCESS_RULES",
    "CurveScores",
    "mse",
    "score_curves",
    "score_run",
    "select_index",
    "solved_at_index",
    "sparsity_error",
    "strict_bound",
]

#: Madsen's ``best.range``: the selected step is searched in the last 5 000 logged points.
SELECTION_WINDOW = 5000
#: How the scored point of a run is chosen: ``"best"`` — the best interpolation error in the selection
#: window (Madsen & Johansen); ``"final"`` — the run's last logged point (Schlör et al. 2020).
SELECTIONS: tuple[str, ...] = ("best", "final")

#: The success tests: strictly below the threshold (Madsen's and the Primer's R scripts) or at most
#: the threshold (the divBy0 R script, ``neurips_range_divBy0.r``).
SUCCESS_RULES = ("<", "<=")


def strict_bound(threshold: float, rule: str = "<") -> float:
    """The bound ``b`` for which the scoring's strict test ``mse < b`` is ``mse <rule> threshold``.

    ``"<"``: the threshold itself. ``"<="``: the next float64 above it — no float64 lies between the
    two, and every MSE is compared as a float64 (float32 values convert exactly), so for every MSE
    ``mse < b`` holds exactly when ``mse <= threshold`` does. The trainer and the runner score with
    the strict test only; this keeps them unchanged.
    """
    if rule not in SUCCESS_RULES:
        raise ValueError(f"rule: expected one of {SUCCESS_RULES}, got {rule!r}")
    t = float(threshold)
    return t if rule == "<" else float(np.nextafter(t, np.inf))


def mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over the last two dims (``[..., N, O]`` → ``[...]``), e.g. per run."""
    return (prediction - target).square().mean(dim=(-2, -1))


def sparsity_error(module: nn.Module) -> Tensor:
    """Madsen's sparsity error of a (stacked) network: max over effective weights of min(|w|, |1−|w||).

    Thin wrapper over :func:`nalm.units.sparsity.sparsity_error`.
    """
    return _sparsity_error(module)


def _as_2d(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [N] or [S, N], got shape {arr.shape}")
    return arr


def _lengths(lengths: Any, S: int, N: int) -> np.ndarray:
    if lengths is None:
        return np.full(S, N, dtype=np.int64)
    out = np.broadcast_to(np.asarray(lengths, dtype=np.int64), (S,)).copy()
    if (out < 1).any() or (out > N).any():
        raise ValueError(f"lengths must be in [1, {N}]")
    return out


def select_index(
    interpolation_mse: Any, *, window: int = SELECTION_WINDOW, lengths: Any = None,
    selection: str = "best",
) -> np.ndarray:
    """Index of the evaluation to score, per run: argmin of the interpolation error over the last
    ``min(L, window)`` of a run's ``L`` logged points (first on ties, non-finite values ignored; the
    last point if none is finite). Input ``[N]`` or ``[S, N]`` (rows padded beyond ``lengths``).
    ``selection="final"``: the last logged point ``L − 1``, whatever its values."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    v = _as_2d(interpolation_mse, "interpolation_mse")
    S, N = v.shape
    L = _lengths(lengths, S, N)
    if selection == "final":
        return L - 1
    j = np.arange(N)[None, :]
    lo = (L - np.minimum(L, window))[:, None]
    ok = (j >= lo) & (j < L[:, None]) & np.isfinite(v)
    masked = np.where(ok, v, np.inf)
    idx = masked.argmin(axis=1)
    return np.where(ok.any(axis=1), idx, L - 1)


def solved_at_index(
    extrapolation_mse: Any, threshold: Any, *, lengths: Any = None
) -> np.ndarray:
    """Index of the first logged point with extrapolation error strictly under the threshold, per
    run; −1 when there is none."""
    v = _as_2d(extrapolation_mse, "extrapolation_mse")
    S, N = v.shape
    L = _lengths(lengths, S, N)
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (S,))[:, None]
    with np.errstate(invalid="ignore"):
        under = (v < thr) & (np.arange(N)[None, :] < L[:, None])
    first = under.argmax(axis=1)
    return np.where(under.any(axis=1), first, -1)


@dataclass
class CurveScores:
    """Per-run scores (arrays over the run axis)."""

    selected_index: np.ndarray
    selected_step: np.ndarray
    interpolation_mse: np.ndarray
    extrapolation_mse: np.ndarray
    sparsity_error: np.ndarray
    solved: np.ndarray  # bool
    solved_at: np.ndarray  # step, −1 when never under the threshold
    threshold: np.ndarray

    def success_rate(self) -> tuple[float, float, float]:
        """``(rate, wilson_low, wilson_high)`` over the runs."""
        n = int(self.solved.size)
        k = int(self.solved.sum())
        low, high = wilson_interval(k, n)
        return k / n, low, high


def score_curves(
    steps: Any,
    interpolation_mse: Any,
    extrapolation_mse: Any,
    threshold: Any,
    sparsity_error: Any = None,
    *,
    window: int = SELECTION_WINDOW,
    lengths: Any = None,
    selection: str = "best",
) -> CurveScores:
    """Score learning curves as Madsen & Johansen do (vectorised; ``[N]`` or ``[S, N]`` inputs).

    ``steps`` is ``[N]`` (shared) or ``[S, N]``; ``threshold`` a scalar or ``[S]``. A run is solved
    when its extrapolation error at the selected step is strictly under the threshold; ``solved_at``
    is the first logged step under it anywhere in the series (it may precede the selected step).
    ``selection``: which point is scored (:data:`SELECTIONS`; ``"final"``: the last logged one).
    """
    interp = _as_2d(interpolation_mse, "interpolation_mse")
    extrap = _as_2d(extrapolation_mse, "extrapolation_mse")
    S, N = interp.shape
    if extrap.shape != (S, N):
        raise ValueError(f"extrapolation_mse shape {extrap.shape} != interpolation_mse shape {(S, N)}")
    st = np.asarray(steps, dtype=np.int64)
    st = np.broadcast_to(st if st.ndim == 2 else st[None, :], (S, N))
    sp = (
        np.full((S, N), np.nan)
        if sparsity_error is None
        else np.broadcast_to(_as_2d(sparsity_error, "sparsity_error"), (S, N))
    )
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (S,)).copy()
    sel = select_index(interp, window=window, lengths=lengths, selection=selection)
    rows = np.arange(S)
    ex_sel = extrap[rows, sel]
    with np.errstate(invalid="ignore"):
        solved = ex_sel < thr
    first = solved_at_index(extrap, thr, lengths=lengths)
    solved_at = np.where(first >= 0, st[rows, np.maximum(first, 0)], -1)
    return CurveScores(
        selected_index=sel,
        selected_step=st[rows, sel],
        interpolation_mse=interp[rows, sel],
        extrapolation_mse=ex_sel,
        sparsity_error=sp[rows, sel],
        solved=solved,
        solved_at=solved_at,
        threshold=thr,
    )


def score_run(
    curve: LearningCurve,
    threshold: float,
    *,
    seed: int,
    status: RunStatus = "ok",
    iterations: int | None = None,
    diverged_at: int | None = None,
    window: int = SELECTION_WINDOW,
) -> RunResult:
    """One run's :class:`~nalm.results.RunResult` from its learning curve.

    ``iterations`` defaults to the last logged step (evaluation happens before the update). A
    diverged run is scored on the points it logged; it can still not be counted a success by the
    caller's choice of ``status``, but the scoring itself is the same as the papers'.
    """
    if not curve.step:
        raise ValueError("the learning curve is empty")
    sparsity = curve.sparsity_error if len(curve.sparsity_error) == len(curve.step) else None
    sc = score_curves(
        curve.step, curve.interpolation_mse, curve.extrapolation_mse, threshold, sparsity,
        window=window,
    )
    solved_at = int(sc.solved_at[0])
    return RunResult(
        seed=int(seed),
        status=status,
        solved=bool(sc.solved[0]),
        solved_at=None if solved_at < 0 else solved_at,
        selected_step=int(sc.selected_step[0]),
        interpolation_mse=float(sc.interpolation_mse[0]),
        extrapolation_mse=float(sc.extrapolation_mse[0]),
        sparsity_error=float(sc.sparsity_error[0]),
        threshold=float(threshold),
        iterations=int(curve.step[-1]) if iterations is None else int(iterations),
        diverged_at=diverged_at,
        curve=curve,
    )
