"""How runs are measured: errors, the success threshold, step selection, solved-at, sparsity, Trask's scale.

Definitions follow the code of the published benchmarks:

* A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016 (R export
  scripts of stable-nalu): success threshold = expected test MSE of an ε-perturbed perfect solution,
  selected step = best interpolation (validation) error over the last 5 000 logged points, success =
  test MSE at that step strictly under the threshold, solved-at = first logged step under it, Wilson
  95 % intervals (:func:`nalm.stats.wilson_interval`).
* B. Mistry, K. Farrahi, J. Hare, "A Primer for Neural Arithmetic Logic Modules", JMLR 2022: the same
  scoring with its own threshold choices (policies ``fixed_1e-5``, ``simulated_eps_1e-4/1e-5``).
* A. Trask et al., "Neural Arithmetic Logic Units", NeurIPS 2018: errors scaled by a randomly
  initialised model's error (:func:`trask_normalised_error`).

Threshold policies (record the one used with every result):

``"madsen_r"``
    Monte Carlo with the subset geometry of Madsen's R script, which builds its reference weights with
    R's inclusive ranges: subsets of ``subset_size + 1`` inputs overlapping by ``overlap_size + 1``
    (an off-by-one against the Python generator). This reproduces the published thresholds, so use it
    to reproduce published success rates. Default for static tasks whose R geometry fits the input.
``"generator"``
    Monte Carlo with the subsets the generator really uses (consistent, not the published numbers).
``"published"``
    The six stored thresholds of the published tables; default static task only.
``"fixed_1e-5"``
    The constant 1e-5 (the Primer's ``exp_setups.csv`` epsilon column used directly as the threshold;
    also the division benchmark's). Default for single-module tasks.
``"simulated_eps_1e-4"``, ``"simulated_eps_1e-5"``
    The Primer's ``generate_exp_thresholds.r`` perturbation model for one module with two
    one-element operands (add/sub: ``−ε·Σ|x_i|``; mul: ``(1−ε)²·Π_irrelevant(1−ε|x_i|)``; div:
    ``(1−ε)/(1+ε)·Π_irrelevant(1−ε|x_i|)``), ε fixed by the name.

Monte Carlo samples come from nalm's counter-based generator (float64 stream, a dedicated stream tag,
fixed seed) over the task's extrapolation range, so each estimate is deterministic; results are cached
per (task, policy, ε, samples, seed).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from nalm.errors import ConfigError
from nalm.results import LearningCurve, RunResult, RunStatus
from nalm.policies import THRESHOLD_POLICIES
from nalm.stats import wilson_interval

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_MC_SAMPLES",
    "PUBLISHED_THRESHOLDS",
    "SELECTION_WINDOW",
    "THRESHOLD_POLICIES",
    "CurveScores",
    "RandomBaseline",
    "ThresholdEstimate",
    "default_threshold_policy",
    "mse",
    "random_baseline_error",
    "score_curves",
    "score_run",
    "select_index",
    "solved_at_index",
    "sparsity_error",
    "success_threshold",
    "threshold_estimate",
    "trask_normalised_error",
    "wilson_interval",
]

DEFAULT_EPS = 1e-5
DEFAULT_MC_SAMPLES = 1_000_000
#: Madsen's ``best.range``: the selected step is searched in the last 5 000 logged points.
SELECTION_WINDOW = 5000


#: Thresholds stored with the published results (stable-nalu ``paper/results/sft-last.csv``), for the
#: default static task: 100 inputs, subset 0.25, overlap 0.5, U[1,2] → U[2,6], ε = 1e-5.
PUBLISHED_THRESHOLDS: dict[str, float] = {
    "add": 1.47861742158438e-5,
    "sub": 1.38437045113029e-8,
    "mul": 0.160010658743333,
    "div": 4.93805490041429e-12,
    "squared": 0.159473806098301,
    "root": 8.95525993233274e-9,
}

_SIMULATED_EPS = {"simulated_eps_1e-4": 1e-4, "simulated_eps_1e-5": 1e-5}
_MC_CHUNK_VALUES = 2_000_000  # inputs per Monte Carlo chunk (16 MB of float64)


# ==================================================================================================
# errors
# ==================================================================================================


def mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over the last two dims (``[..., N, O]`` → ``[...]``), e.g. per run."""
    return (prediction - target).square().mean(dim=(-2, -1))


def sparsity_error(module: nn.Module) -> Tensor:
    """Madsen's sparsity error of a (stacked) network: max over effective weights of min(|w|, |1−|w||).

    Thin lazy wrapper over :func:`nalm.units.sparsity.sparsity_error`.
    """
    from nalm.units.sparsity import sparsity_error as _impl

    return _impl(module)


# ==================================================================================================
# success threshold
# ==================================================================================================


@dataclass(frozen=True)
class ThresholdEstimate:
    """A success threshold and how it was obtained (``stderr`` and ``samples`` are 0 when not simulated)."""

    value: float
    stderr: float
    policy: str
    eps: float | None
    samples: int
    seed: int | None = None


def _task_kind(task: Any) -> str:
    from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask

    if isinstance(task, SingleModuleTask):
        return "single_module"
    if isinstance(task, StaticArithmeticTask):
        return "static"
    return "other"


def _madsen_r_geometry(task: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """Half-open 0-based column ranges of the R script's reference weights (a, b)."""
    if task.simple:
        return (0, 2), (0, 4)  # R: a = columns 1:2, b = columns 1:4 (no off-by-one here)
    if task.num_subsets != 2:
        raise ConfigError(
            f"threshold_policy: 'madsen_r' models exactly 2 subsets, the task has {task.num_subsets}"
        )
    s, o = task.subset_size, task.overlap_size
    a = (0, s + 1)  # R: W[a.start:a.end] with a.end = a.start + s, inclusive → s + 1 columns
    b = (s - o, 2 * s - o + 1)  # R: b.start = a.end − o, b.end = b.start + s, inclusive
    if b[1] > task.input_size:
        raise ConfigError(
            f"threshold_policy: 'madsen_r' needs {b[1]} inputs (subsets of {s + 1} overlapping by "
            f"{o + 1}, R's inclusive ranges) but input_size is {task.input_size}; use 'generator'"
        )
    return a, b


def default_threshold_policy(task: Any) -> str:
    """``fixed_1e-5`` for single-module tasks; ``madsen_r`` for static tasks where the R geometry
    fits, else ``generator``."""
    kind = _task_kind(task)
    if kind == "single_module":
        return "fixed_1e-5"
    if kind == "static":
        try:
            _madsen_r_geometry(task)
        except ConfigError:
            return "generator"
        return "madsen_r"
    policy = getattr(task, "default_threshold_policy", None)
    if policy is None:
        raise ConfigError(f"threshold_policy: no default for task {type(task).__name__}")
    return str(policy)


def _is_published_setting(task: Any) -> bool:
    from nalm.tasks.static import StaticArithmeticTask

    return (
        type(task) is StaticArithmeticTask
        and not task.simple
        and task.input_size == 100
        and task.subset_ratio == 0.25
        and task.overlap_ratio == 0.5
        and task.num_subsets == 2
        and task.interpolation_range == ((1.0, 2.0),)
        and task.extrapolation_range == ((2.0, 6.0),)
    )


def _apply(op: str, z: Sequence[np.ndarray]) -> np.ndarray:
    if op == "add":
        out = z[0]
        for v in z[1:]:
            out = out + v
        return out
    if op == "sub":
        return z[0] - z[1]
    if op == "mul":
        out = z[0]
        for v in z[1:]:
            out = out * v
        return out
    if op == "div":
        return z[0] / z[1]
    if op == "squared":
        return z[0] * z[0]
    if op == "root":
        return np.sqrt(z[0])
    raise ConfigError(f"op: unknown operation {op!r}")


def _mc_chunks(task: Any, subsets: Sequence[tuple[int, int]], samples: int, seed: int) -> Any:
    """Yield ``(x, sums)`` float64 chunks over the extrapolation range; ``sums[:, k]`` per subset."""
    from nalm.tasks.counter_rng import STREAM_THRESHOLD, UniformStream

    n = task.input_size
    spec = task.extrapolation_range
    starts = np.array([[s for s, _ in subsets]], dtype=np.int64)
    ends = np.array([[e for _, e in subsets]], dtype=np.int64)
    stream = UniformStream(
        [seed], n, [r[0] for r in spec], [r[1] - r[0] for r in spec], starts, ends,
        precision="float64", stream=STREAM_THRESHOLD,
    )
    rows = max(1, _MC_CHUNK_VALUES // n)
    done, chunk = 0, 0
    while done < samples:
        m = min(rows, samples - done)
        x, sums = stream(chunk, m)
        yield x[0].numpy(), sums[0].numpy()
        done += m
        chunk += 1


def _perturbed_errors_geometry(
    op: str, subsets: Sequence[tuple[int, int]], n: int, eps: float, x: np.ndarray, sums: np.ndarray
) -> np.ndarray:
    """Squared error of the ε-perturbed two-layer solution: weight 1−ε on members, ε elsewhere."""
    total = sums[:, -1]
    exact = [sums[:, k] for k in range(len(subsets))]
    perturbed = [(1.0 - eps) * s + eps * (total - s) for s in exact]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_apply(op, perturbed) - _apply(op, exact)) ** 2


def _perturbed_errors_primer(
    op: str, a: int, b: int, eps: float, x: np.ndarray
) -> np.ndarray:
    """Squared error of the Primer's single-module perturbation (generate_exp_thresholds.r)."""
    x1, x2 = x[:, a], x[:, b]
    irrelevant = np.ones(x.shape[1], dtype=bool)
    irrelevant[[a, b]] = False
    if op in ("add", "sub"):
        exact = x1 + x2 if op == "add" else x1 - x2
        return (exact - eps * np.abs(x).sum(axis=1) - exact) ** 2
    damp = np.prod(1.0 - eps * np.abs(x[:, irrelevant]), axis=1) if irrelevant.any() else 1.0
    if op == "mul":
        exact = x1 * x2
        return ((1.0 - eps) ** 2 * exact * damp - exact) ** 2
    if op == "div":
        exact = x1 / x2
        return ((1.0 - eps) / (1.0 + eps) * exact * damp - exact) ** 2
    raise ConfigError(
        f"threshold_policy: the Primer's simulated thresholds define add, sub, mul and div, not {op!r}"
    )


@functools.lru_cache(maxsize=256)
def _simulate(task: Any, policy: str, eps: float, samples: int, seed: int) -> ThresholdEstimate:
    op = task.op
    if policy in _SIMULATED_EPS:
        ranges = task.template
        if len(ranges) != 2 or any(e - s != 1 for s, e in ranges):
            raise ConfigError(
                f"threshold_policy: {policy!r} models one module with two one-element operands; "
                f"the task's subsets are {list(ranges)}"
            )
        a, b = ranges[0][0], ranges[1][0]
        subsets: list[tuple[int, int]] = [(0, task.input_size)]
    elif policy == "madsen_r":
        subsets = list(_madsen_r_geometry(task))
    else:  # generator
        subsets = list(task.template)
    subsets_with_total = subsets + [(0, task.input_size)]
    total = 0.0
    total_sq = 0.0
    count = 0
    for x, sums in _mc_chunks(task, subsets_with_total, samples, seed):
        if policy in _SIMULATED_EPS:
            err = _perturbed_errors_primer(op, a, b, eps, x)
        else:
            err = _perturbed_errors_geometry(op, subsets, task.input_size, eps, x, sums)
        total += float(err.sum())
        total_sq += float(np.square(err).sum())
        count += err.shape[0]
    mean = total / count
    var = max(total_sq / count - mean * mean, 0.0) * count / max(count - 1, 1)
    return ThresholdEstimate(
        value=mean, stderr=math.sqrt(var / count), policy=policy, eps=eps, samples=count, seed=seed
    )


def threshold_estimate(
    task: Any,
    policy: str | None = None,
    *,
    eps: float | None = None,
    samples: int = DEFAULT_MC_SAMPLES,
    seed: int = 0,
) -> ThresholdEstimate:
    """The success threshold of ``task`` under ``policy`` (default: :func:`default_threshold_policy`).

    ``eps`` (default 1e-5) applies to ``madsen_r`` and ``generator``; the ``simulated_eps_*`` policies
    carry their ε in the name. ``samples``/``seed`` control the Monte Carlo estimate (cached).
    """
    if policy is None:
        policy = default_threshold_policy(task)
    if policy not in THRESHOLD_POLICIES:
        raise ConfigError(
            f"threshold_policy: unknown policy {policy!r}; expected one of {', '.join(THRESHOLD_POLICIES)}"
        )
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2:
        raise ConfigError(f"samples: must be an integer of at least 2, got {samples!r}")
    if policy == "published":
        if not _is_published_setting(task):
            raise ConfigError(
                "threshold_policy: 'published' thresholds exist only for the default static task "
                "(100 inputs, subset 0.25, overlap 0.5, U[1,2] -> U[2,6]); use 'madsen_r'"
            )
        return ThresholdEstimate(PUBLISHED_THRESHOLDS[task.op], 0.0, policy, DEFAULT_EPS, 0)
    if policy == "fixed_1e-5":
        return ThresholdEstimate(1e-5, 0.0, policy, None, 0)
    if policy in _SIMULATED_EPS:
        if eps is not None and eps != _SIMULATED_EPS[policy]:
            raise ConfigError(f"eps: policy {policy!r} fixes ε = {_SIMULATED_EPS[policy]:g}, got {eps:g}")
        eps = _SIMULATED_EPS[policy]
    elif eps is None:
        eps = DEFAULT_EPS
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ConfigError(f"eps: must be in (0, 1), got {eps!r}")
    if _task_kind(task) == "other":
        raise ConfigError(f"threshold_policy: {policy!r} needs a static or single-module task")
    return _simulate(task, policy, float(eps), int(samples), int(seed))


def success_threshold(
    task: Any,
    policy: str | None = None,
    *,
    eps: float | None = None,
    samples: int = DEFAULT_MC_SAMPLES,
    seed: int = 0,
) -> float:
    """Just the value of :func:`threshold_estimate`."""
    return threshold_estimate(task, policy, eps=eps, samples=samples, seed=seed).value


# ==================================================================================================
# selection and scoring (vectorised over a leading run axis)
# ==================================================================================================


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
    interpolation_mse: Any, *, window: int = SELECTION_WINDOW, lengths: Any = None
) -> np.ndarray:
    """Index of the evaluation to score, per run: argmin of the interpolation error over the last
    ``min(L, window)`` of a run's ``L`` logged points (first on ties, non-finite values ignored; the
    last point if none is finite). Input ``[N]`` or ``[S, N]`` (rows padded beyond ``lengths``)."""
    v = _as_2d(interpolation_mse, "interpolation_mse")
    S, N = v.shape
    L = _lengths(lengths, S, N)
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
) -> CurveScores:
    """Score learning curves as Madsen & Johansen do (vectorised; ``[N]`` or ``[S, N]`` inputs).

    ``steps`` is ``[N]`` (shared) or ``[S, N]``; ``threshold`` a scalar or ``[S]``. A run is solved
    when its extrapolation error at the selected step is strictly under the threshold; ``solved_at``
    is the first logged step under it anywhere in the series (it may precede the selected step).
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
    sel = select_index(interp, window=window, lengths=lengths)
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


# ==================================================================================================
# Trask et al. normalisation
# ==================================================================================================

Average = Literal["mean", "median", "trimmed_mean"]


def _average(values: np.ndarray, average: Average, trim: float) -> float:
    if values.size == 0:
        return math.nan
    if average == "mean":
        return float(values.mean())
    if average == "median":
        return float(np.median(values))
    if average == "trimmed_mean":
        v = np.sort(values)
        k = int(math.floor(trim * v.size))
        return float(v[k : v.size - k].mean())
    raise ValueError(f"average must be 'mean', 'median' or 'trimmed_mean', got {average!r}")


def trask_normalised_error(
    model_error: float,
    random_errors: Any,
    *,
    average: Average = "mean",
    trim: float = 0.1,
    exclude_nonfinite: bool = True,
) -> float:
    """``100 · E_model / E_rand`` (Trask et al. 2018): 0 is perfect, 100 is no better than random.

    ``random_errors``: errors of K untrained models (or one already-averaged value). ``average``:
    ``"mean"`` (the plain average), or robust ``"median"`` / ``"trimmed_mean"`` (``trim`` cut from
    each end), for baselines with exploding members (division, exp-log units). Non-finite baseline
    errors are dropped unless ``exclude_nonfinite=False``.
    """
    r = np.atleast_1d(np.asarray(random_errors, dtype=np.float64))
    if exclude_nonfinite:
        r = r[np.isfinite(r)]
    e_rand = _average(r, average, trim)
    return 100.0 * float(model_error) / e_rand


@dataclass(frozen=True)
class RandomBaseline:
    """Errors of K untrained models on one evaluation set, and their average."""

    value: float
    errors: tuple[float, ...]
    excluded: int  # non-finite errors left out of ``value``
    k: int
    split: str
    error: str
    average: str
    seeds: tuple[int, ...]


def random_baseline_error(
    model_factory: Callable[[], nn.Module],
    task: Any,
    *,
    split: str = "extrapolation",
    k: int = 100,
    seed_start: int = 1_000_000,
    task_seed: int = 0,
    error: Literal["mse", "mae"] = "mse",
    average: Average = "mean",
    trim: float = 0.1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> RandomBaseline:
    """``E_rand`` for Trask's scale: the error of ``k`` (≥ 100 recommended) untrained models.

    Model ``i`` is built by ``model_factory()`` right after ``torch.manual_seed(seed_start + i)``
    (inside a forked RNG, so the caller's RNG state is untouched); seeds start far from the usual
    training seeds. Each model is evaluated in eval mode on the task's fixed ``split`` set with the
    targets of run ``task_seed``. Record ``k``, the architecture and ``error`` alongside the result.
    """
    if k < 1:
        raise ConfigError(f"k: must be a positive integer, got {k!r}")
    x, y = task.evaluation_set(split, [task_seed], device=device, dtype=dtype)
    x, y = x[0], y[0]
    errors: list[float] = []
    seeds = tuple(range(seed_start, seed_start + k))
    devices = [torch.device(device)] if device is not None and torch.device(device).type == "cuda" else []
    for s in seeds:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(s)
            model = model_factory()
        model = model.to(device=device, dtype=dtype).eval()
        with torch.no_grad():
            pred = model(x)
            diff = pred.reshape(y.shape).to(torch.float64) - y.to(torch.float64)
            e = diff.square().mean() if error == "mse" else diff.abs().mean()
        errors.append(float(e))
    arr = np.asarray(errors)
    finite = arr[np.isfinite(arr)]
    return RandomBaseline(
        value=_average(finite, average, trim),
        errors=tuple(errors),
        excluded=int(arr.size - finite.size),
        k=k,
        split=split,
        error=error,
        average=average,
        seeds=seeds,
    )
