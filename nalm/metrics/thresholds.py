"""Success thresholds: the policies, their Monte Carlo estimate and the published values.

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
``"gold_nru"``, ``"gold_nmru"``, ``"gold_real_npu"``
    Mistry et al. 2021's division by small numbers (``generate_divBy0_extrap_thresholds.py``): the
    MSE of the unit (NRU, NMRU, Real NPU) with its hand-set gold weights (:func:`gold_weights`) on the
    task's test set in float32, measured as the trainer measures a run, plus float32 machine ε;
    success is MSE ``<=`` it (the only ``<=`` rule,
    see :data:`nalm.policies.INCLUSIVE_POLICIES`), so ``value`` is
    :func:`~nalm.metrics.scoring.strict_bound` of it. Computed with nalm's own unit on the task's
    bit-identical test set, it reproduces the published per-module thresholds for the NRU and the Real
    NPU; for the NMRU it is lower where the reference's NMU factor ``(x·W + 1) − W``, rounded left to
    right in float32, lost digits that nalm's ``x·W + (1 − W)`` keeps (tests/bench/test_mistry2021.py).

A task names its default policy (its ``default_threshold_policy``); the Monte Carlo policies model the
static generator's data, so they need a task whose ``name`` is ``"static"`` or ``"single_module"``.
Samples come from nalm's counter-based generator (float64 stream, a dedicated stream tag, fixed seed)
over the task's extrapolation range, so each estimate is deterministic; results are cached per
(task, policy, ε, samples, seed).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from nalm.errors import ConfigError
from nalm.policies import INCLUSIVE_POLICIES, THRESHOLD_POLICIES
from nalm.resources import check_duration, check_host_memory
from nalm.tasks.ops import operation
from nalm.tasks.rng import STREAM_THRESHOLD, UniformStream

from .scoring import strict_bound

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_MC_SAMPLES",
    "PUBLISHED_THRESHOLDS",
    "THRESHOLD_POLICIES",
    "ThresholdEstimate",
    "default_threshold_policy",
    "gold_weights",
    "success_threshold",
    "threshold_estimate",
]

DEFAULT_EPS = 1e-5
DEFAULT_MC_SAMPLES = 1_000_000

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

#: Task names (a task's ``name``) whose data are the static generator's: sums of input subsets.
_GENERATOR_TASKS = frozenset({"static", "single_module"})

_SIMULATED_EPS = {"simulated_eps_1e-4": 1e-4, "simulated_eps_1e-5": 1e-5}
_MC_CHUNK_VALUES = 2_000_000  # inputs per Monte Carlo chunk (16 MB of float64)


@dataclass(frozen=True)
class ThresholdEstimate:
    """A success threshold and how it was obtained (``stderr`` and ``samples`` are 0 when not simulated).

    ``value`` is what the scoring's strict test compares against; under a ``<=`` policy (``rule``)
    that is the threshold's :func:`~nalm.metrics.scoring.strict_bound`, one float64 step above it.
    """

    value: float
    stderr: float
    policy: str
    eps: float | None
    samples: int
    seed: int | None = None
    rule: str = "<"


# --------------------------------------------------------------------------------------------------
# which policy applies to a task
# --------------------------------------------------------------------------------------------------


#: Task names whose threshold is the ε-perturbed *recurrent* solution (:mod:`.recurrent_threshold`).
_RECURRENT_TASKS = frozenset({"recurrent"})


def _uses_generator(task: Any) -> bool:
    """True when the task declares itself a static-generator task (its ``name``)."""
    return getattr(task, "name", None) in _GENERATOR_TASKS


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
    """The policy the task declares (its ``default_threshold_policy``: ``madsen_r`` for static
    tasks, ``fixed_1e-5`` for single-module ones); ``madsen_r`` becomes ``generator`` on a
    static-generator task whose R geometry does not fit the input."""
    policy = getattr(task, "default_threshold_policy", None)
    if policy is None:
        raise ConfigError(f"threshold_policy: no default for task {type(task).__name__}")
    if policy == "madsen_r" and (_uses_generator(task) or getattr(task, "name", None) in _RECURRENT_TASKS):
        try:
            _madsen_r_geometry(task)
        except ConfigError:
            return "generator"
    return str(policy)


def _is_published_setting(task: Any) -> bool:
    """The one setting the published thresholds belong to: Madsen's default static task."""
    return (
        getattr(task, "name", None) == "static"
        and not task.simple
        and task.input_size == 100
        and task.subset_ratio == 0.25
        and task.overlap_ratio == 0.5
        and task.num_subsets == 2
        and task.interpolation_range == ((1.0, 2.0),)
        and task.extrapolation_range == ((2.0, 6.0),)
    )


# --------------------------------------------------------------------------------------------------
# Monte Carlo estimate
# --------------------------------------------------------------------------------------------------


def _apply(op: str, z: Sequence[np.ndarray]) -> np.ndarray:
    """The target of ``op`` from the subset sums (the operations table's own computation)."""
    return operation(op).compute(z, np)


def _mc_chunks(
    task: Any, subsets: Sequence[tuple[int, int]], samples: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x, sums)`` float64 chunks over the extrapolation range; ``sums[:, k]`` per subset."""
    n = task.input_size
    spec = task.extrapolation_range
    starts = np.array([[s for s, _ in subsets]], dtype=np.int64)
    ends = np.array([[e for _, e in subsets]], dtype=np.int64)
    stream = UniformStream(
        [seed], n, [r[0] for r in spec], [r[1] - r[0] for r in spec], starts, ends,
        precision="float64", stream=STREAM_THRESHOLD,
    )
    rows = max(1, _MC_CHUNK_VALUES // n)
    check_host_memory(
        rows * n * 8 * 2,  # the chunk's float64 inputs, and their copy as a NumPy array
        f"input_size: a Monte Carlo chunk ({rows:,} rows × {n:,} inputs, float64)",
        "use fewer inputs",
    )
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
def _simulate(
    task: Any, policy: str, eps: float, samples: int, seed: int, max_seconds: float | None
) -> ThresholdEstimate:
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
    chunk_started = time.perf_counter()
    for chunk, (x, sums) in enumerate(_mc_chunks(task, subsets_with_total, samples, seed)):
        if policy in _SIMULATED_EPS:
            err = _perturbed_errors_primer(op, a, b, eps, x)
        else:
            err = _perturbed_errors_geometry(op, subsets, task.input_size, eps, x, sums)
        total += float(err.sum())
        total_sq += float(np.square(err).sum())
        count += err.shape[0]
        if chunk == 1:  # projected from the second chunk: the first may include JIT compilation
            per_row = (time.perf_counter() - chunk_started) / err.shape[0]
            check_duration(
                per_row * samples,
                f"samples: {samples:,} Monte Carlo samples of {task.input_size:,} inputs",
                "use fewer samples",
                max_seconds,
            )
        chunk_started = time.perf_counter()
    mean = total / count
    var = max(total_sq / count - mean * mean, 0.0) * count / max(count - 1, 1)
    return ThresholdEstimate(
        value=mean, stderr=math.sqrt(var / count), policy=policy, eps=eps, samples=count, seed=seed
    )


# --------------------------------------------------------------------------------------------------
# gold weights (Mistry et al. 2021, division by small numbers)
# --------------------------------------------------------------------------------------------------

#: The unit each gold-weight policy sets by hand.
_GOLD_UNITS = {"gold_nru": "nru", "gold_nmru": "nmru", "gold_real_npu": "real_npu"}

#: Operations the power-product units compute exactly: the exponent of each operand (a, then b).
_POWER_OPS: dict[str, tuple[int, ...]] = {"mul": (1, 1), "div": (1, -1), "reciprocal": (-1,)}


def _gold_exponents(task: Any) -> np.ndarray:
    """The power of each input in the target (``[input_size]``, 0 for unused inputs)."""
    if not _uses_generator(task) or task.op not in _POWER_OPS:
        raise ConfigError(
            f"threshold_policy: gold weights are defined for {', '.join(_POWER_OPS)} on a static or "
            f"single-module task, not {getattr(task, 'op', None)!r} on {type(task).__name__}"
        )
    template = task.template
    if task.used_size != task.input_size or any(e - s != 1 for s, e in template):
        # operands at a seed-dependent offset would need a threshold per seed
        raise ConfigError(
            "threshold_policy: gold weights need one-element operands that fill the input "
            f"(the divBy0 tasks' 1 or 2 inputs); the task's subsets are {list(template)} of "
            f"{task.input_size} inputs"
        )
    exponents = np.zeros(task.input_size)
    for (start, _), power in zip(template, _POWER_OPS[task.op]):
        exponents[start] += power
    return exponents


def gold_weights(unit: str, task: Any) -> dict[str, np.ndarray]:
    """The hand-set weights with which ``unit`` computes ``task``'s target exactly, as
    ``generate_divBy0_extrap_thresholds.py`` sets them (one output; shapes as the unit's parameters).

    ``"nru"``: ``W`` = each input's exponent (1/a: [[−1]]; a/b: [[1, −1]]). ``"nmru"``: ``W`` over
    ``[x, 1/x]`` selects x_i for exponent 1 and 1/x_i for −1. ``"real_npu"``: ``W_re`` as the NRU's,
    gate ``g`` 1 on the operands and 0 elsewhere (an input gated to 0 contributes exactly 1, whatever its
    weight; the reference script writes W = [−1, 1], g = [1, 0] for [a, b] → 1/a, the same output).
    """
    e = _gold_exponents(task)
    if unit == "nru":
        return {"W": e[None, :]}
    if unit == "nmru":
        return {"W": np.concatenate([(e == 1), (e == -1)]).astype(np.float64)[None, :]}
    if unit == "real_npu":
        return {"W_re": e[None, :], "g": (e != 0).astype(np.float64)}
    raise ConfigError(f"threshold_policy: no gold weights for unit {unit!r} (nru, nmru, real_npu)")


@functools.lru_cache(maxsize=256)
def _gold_threshold(task: Any, policy: str) -> float:
    """The unit's MSE at its gold weights on the task's test set, measured as the trainer measures a
    run's, plus float32 ε in float32 (the reference script's ``criterion(pred, y) + eps``).

    The trainer (``training/runs.py``, ``BatchedRuns._mse``) takes float32 errors, sums their squares
    in float64 and rounds the mean to float32; the reference's float32 ``MSELoss`` can round that mean
    differently in the last bit, which ε cannot absorb where the MSE is large (the Real NPU's 1.2e12
    at U[0, 1e-4], whose float32 step is 1.3e5). Measured the trainer's way, a run that ends exactly
    at the gold weights (a clipped unit can) has exactly this MSE and passes the ``<=``. The forward
    pass is kernel-independent at gold weights: every weight is −1, 0 or 1, so each product is exact
    and each sum has at most two terms."""
    import torch  # the other policies need no torch

    from nalm.units import create

    unit = _GOLD_UNITS[policy]
    weights = gold_weights(unit, task)
    x, y = task.evaluation_set("extrapolation", [0], dtype=torch.float32)  # operands: no seed offset
    module = create(unit, task.in_features, task.out_features, dtype=torch.float32)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(module, name).copy_(torch.from_numpy(value))
        module.eval()  # the NRU's |W| and the NMRU's 1/x, as every evaluation of a run
        error = (module(x[0]) - y[0]).to(torch.float64)
        mse = (error.square().sum() / error.numel()).to(torch.float32)
    return float(mse + torch.finfo(torch.float32).eps)


# --------------------------------------------------------------------------------------------------
# the threshold of a task
# --------------------------------------------------------------------------------------------------


def threshold_estimate(
    task: Any,
    policy: str | None = None,
    *,
    eps: float | None = None,
    samples: int | None = None,
    seed: int = 0,
    max_seconds: float | None = None,
) -> ThresholdEstimate:
    """The success threshold of ``task`` under ``policy`` (default: :func:`default_threshold_policy`).

    ``eps`` (default 1e-5) applies to ``madsen_r`` and ``generator``; the ``simulated_eps_*`` policies
    carry their ε in the name. ``samples``/``seed`` control the Monte Carlo estimate (cached);
    ``samples=None`` is the task's ``default_mc_samples`` where it declares one (the recurrent task:
    100,000 sequences), else :data:`DEFAULT_MC_SAMPLES`.
    ``max_seconds``: refuse (:class:`ConfigError`, with the estimate) a simulation projected from its
    first chunk to take longer; memory is no limit on ``samples``, the simulation runs in chunks.
    """
    if policy is None:
        policy = default_threshold_policy(task)
    if policy not in THRESHOLD_POLICIES:
        raise ConfigError(
            f"threshold_policy: unknown policy {policy!r}; expected one of {', '.join(THRESHOLD_POLICIES)}"
        )
    if samples is None:
        samples = int(getattr(task, "default_mc_samples", DEFAULT_MC_SAMPLES))
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
    if policy == "reference_runs":
        if getattr(task, "name", None) != "sequential_mnist":
            raise ConfigError("threshold_policy: 'reference_runs' is the sequential MNIST task's (success "
                              "per test length from a reference model's runs)")
        return ThresholdEstimate(0.0, 0.0, policy, None, 0)
    if policy in _GOLD_UNITS:
        rule = "<=" if policy in INCLUSIVE_POLICIES else "<"
        value = strict_bound(_gold_threshold(task, policy), rule)
        return ThresholdEstimate(value, 0.0, policy, float(np.finfo(np.float32).eps), 0, rule=rule)
    if policy in _SIMULATED_EPS:
        if eps is not None and eps != _SIMULATED_EPS[policy]:
            raise ConfigError(f"eps: policy {policy!r} fixes ε = {_SIMULATED_EPS[policy]:g}, got {eps:g}")
        eps = _SIMULATED_EPS[policy]
    elif eps is None:
        eps = DEFAULT_EPS
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ConfigError(f"eps: must be in (0, 1), got {eps!r}")
    if getattr(task, "name", None) in _RECURRENT_TASKS:
        return _simulate_recurrent(task, policy, float(eps), int(samples), int(seed), max_seconds)
    if not _uses_generator(task):
        raise ConfigError(f"threshold_policy: {policy!r} needs a static or single-module task")
    return _simulate(task, policy, float(eps), int(samples), int(seed), max_seconds)


@functools.lru_cache(maxsize=64)
def _simulate_recurrent(
    task: Any, policy: str, eps: float, samples: int, seed: int, max_seconds: float | None
) -> ThresholdEstimate:
    """The recurrent task's ε-perturbed solution (:func:`.recurrent_threshold.simulate_recurrent`)."""
    from .recurrent_threshold import simulate_recurrent

    if policy not in ("madsen_r", "generator"):
        raise ConfigError(
            f"threshold_policy: {policy!r} is not defined for the recurrent task (madsen_r, generator, "
            "fixed_1e-5)"
        )
    subsets = list(_madsen_r_geometry(task)) if policy == "madsen_r" else list(task.template)
    mean, stderr, count = simulate_recurrent(task, policy, subsets, eps, samples, seed, max_seconds)
    return ThresholdEstimate(value=mean, stderr=stderr, policy=policy, eps=eps, samples=count, seed=seed)


def success_threshold(
    task: Any,
    policy: str | None = None,
    *,
    eps: float | None = None,
    samples: int | None = None,
    seed: int = 0,
) -> float:
    """Just the value of :func:`threshold_estimate`."""
    return threshold_estimate(task, policy, eps=eps, samples=samples, seed=seed).value
