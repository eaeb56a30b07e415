"""The minimal arithmetic task of the iNALU experiments (Schlör, Ring & Hotho 2020, experiment 1).

D. Schlör, M. Ring, A. Hotho, "iNALU: Improved Neural Arithmetic Logic Unit", Frontiers in Artificial
Intelligence 3:71 (2020), arXiv:2003.07629; code ``daschloer/inalu`` (``nalu_syn_simple_arith.py``),
which is normative here where it and the paper differ.

Two inputs, one output ``y = x1 ∘ x2`` for ∘ in add, sub, mul, div. Per run (seed) there are three
**fixed** sets of 64,000 pairs: the training set, an interpolation set drawn from the same distribution,
and an extrapolation set drawn from the extrapolation distribution. Distributions (``("kind", ...)``):

* ``("uniform", lo, hi)`` — U(lo, hi);
* ``("truncated_normal", lo, hi)`` — the normal with mean (lo+hi)/2 and sd (hi−lo)/6 truncated to
  [lo, hi] (scipy's ``truncnorm`` with a = −3, b = 3, as the reference calls it);
* ``("exponential", scale)`` — the exponential with that scale (mean).

Each set is drawn as the reference draws it: 2·N values, pooled, shuffled and re-paired into N rows
(the values are i.i.d., so this changes nothing in distribution; it is kept so the construction is the
reference's). Targets are computed in float64 from the float64 inputs, then both are cast to the run's
dtype (the reference feeds float64 numpy arrays into float32 placeholders).

**Training batches** are the reference's: step ``t`` uses rows ``[64·b, 64·(b+1))`` with
``b = t mod 1000`` of the training set, i.e. the fixed set in the same order every epoch (the script
slices ``data[i:i+64]`` and never reshuffles between epochs).

**Reproducibility.** Every number is a pure function of (task config, run seed, step): uniforms come
from nalm's counter-based float64 stream (:mod:`nalm.tasks.rng`, with a stream tag of this task),
turned into the three distributions by inverse CDFs, and the shuffles are argsorts of further
uniforms. The reference draws from numpy's global ``RandomState(seed)`` (scipy's ``truncnorm.rvs``
included), so its numbers cannot be reproduced bit for bit: the distributions are the same, the samples
are not. (Its draws also depend on call order — training, then interpolation, then extrapolation set,
then the weight initialisation from the same stream — which nalm's independent streams do not mimic.)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

from ._base import Split, check_seed
from .rng import fill_uniform, run_keys

__all__ = [
    "DISTRIBUTIONS",
    "INALUArithmeticTask",
    "distribution_label",
    "normalize_distribution",
    "sample_distribution",
]

#: Distribution kinds and their parameter names.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("lo", "hi"),
    "truncated_normal": ("lo", "hi"),
    "exponential": ("scale",),
}
INALU_OPS: tuple[str, ...] = ("add", "sub", "mul", "div")

#: Stream tag of this task's data ("inalu" + 1): the same seed gives numbers unrelated to the
#: static tasks' training stream.
STREAM_INALU = 0x696E_616C_755F_0001
#: ``step`` of the counter stream each draw uses (one per set, one per shuffle).
_DRAWS = {"train": 0, "interpolation": 1, "extrapolation": 2}
_SHUFFLE_OFFSET = 3


def normalize_distribution(value: Any, field: str) -> tuple[Any, ...]:
    """``("kind", params...)`` with float parameters, validated; lists (from JSON or TOML) accepted."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        kind, params = value[0], tuple(value[1:])
    else:
        raise ConfigError(
            f"{field}: expected [kind, params...] with kind one of {', '.join(DISTRIBUTIONS)}, got {value!r}"
        )
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"{field}: unknown distribution {kind!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    names = DISTRIBUTIONS[kind]
    if len(params) != len(names):
        raise ConfigError(f"{field}: {kind} takes {len(names)} parameter(s) ({', '.join(names)}), got {len(params)}")
    out = []
    for name, p in zip(names, params):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not math.isfinite(p):
            raise ConfigError(f"{field}: {kind} {name} must be a finite number, got {p!r}")
        out.append(float(p))
    if kind == "exponential" and not out[0] > 0:
        raise ConfigError(f"{field}: exponential scale must be positive, got {out[0]:g}")
    if kind != "exponential" and not out[0] < out[1]:
        raise ConfigError(f"{field}: {kind} needs lo < hi, got {out[0]:g} and {out[1]:g}")
    return (kind, *out)


def distribution_label(dist: Sequence[Any]) -> str:
    """The published CSV's spelling: ``U(-1..1)``, ``TN(-3..3)``, ``Exp(scale=0.2)``."""
    kind = dist[0]

    def num(v: float) -> str:
        return f"{v:g}"

    if kind == "exponential":
        return f"Exp(scale={num(dist[1])})"
    prefix = "U" if kind == "uniform" else "TN"
    return f"{prefix}({num(dist[1])}..{num(dist[2])})"


def _uniforms(seed: int, draw: int, count: int) -> np.ndarray:
    """``count`` float64 uniforms in [0, 1) of run ``seed``'s draw number ``draw`` (counter-based)."""
    keys = run_keys([seed], STREAM_INALU)
    empty = np.zeros((1, 0), dtype=np.int64)
    u, _ = fill_uniform(
        keys, draw, count, 1, [0.0], [1.0], empty, empty, precision="float64", backend="torch"
    )
    return u.reshape(-1).numpy()


def sample_distribution(dist: Sequence[Any], u: np.ndarray) -> np.ndarray:
    """Inverse-CDF transform of uniforms ``u`` in [0, 1) to ``dist`` (float64)."""
    kind = dist[0]
    if kind == "uniform":
        lo, hi = dist[1], dist[2]
        return np.clip(lo + u * (hi - lo), lo, hi)
    if kind == "exponential":
        return -dist[1] * np.log1p(-u)
    lo, hi = dist[1], dist[2]
    mean, sd = (lo + hi) / 2, (hi - lo) / 6
    t = torch.from_numpy(np.ascontiguousarray(u, dtype=np.float64))
    a = torch.special.ndtr(torch.tensor((lo - mean) / sd, dtype=torch.float64))
    b = torch.special.ndtr(torch.tensor((hi - mean) / sd, dtype=torch.float64))
    z = torch.special.ndtri(a + t * (b - a)).numpy()
    # rounding in ndtr/ndtri must not put a value a hair outside the support
    return np.clip(mean + sd * z, lo, hi)


@functools.lru_cache(maxsize=256)
def _fixed_set(dist: tuple[Any, ...], samples: int, seed: int, which: str) -> np.ndarray:
    """A fixed set ``[samples, 2]`` (read-only float64): 2·samples values drawn, shuffled, re-paired."""
    draw = _DRAWS[which]
    values = sample_distribution(dist, _uniforms(seed, draw, 2 * samples))
    order = np.argsort(_uniforms(seed, _SHUFFLE_OFFSET + draw, 2 * samples), kind="stable")
    x = values[order].reshape(samples, 2)
    x.setflags(write=False)
    return x


def _targets(op: str, x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        return a / b


@dataclass(frozen=True)
class INALUArithmeticTask:
    """Experiment 1 of the iNALU paper: 2 inputs → ``x1 ∘ x2`` on fixed sets (module docstring).

    ``interpolation``: the distribution of the training set and of the interpolation set;
    ``extrapolation``: that of the extrapolation set; ``samples``: rows of each set (64,000).
    """

    op: str
    interpolation: Any = ("truncated_normal", -3.0, 3.0)
    extrapolation: Any = ("truncated_normal", 8.0, 10.0)
    samples: int = 64_000

    name: ClassVar[str] = "inalu_arith"
    #: the reference's criterion: MSE < 1e-5 (results.py)
    default_threshold_policy: ClassVar[str] = "fixed_1e-5"
    in_features: ClassVar[int] = 2
    out_features: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.op not in INALU_OPS:
            raise ConfigError(f"op: unknown operation {self.op!r}; expected one of {', '.join(INALU_OPS)}")
        for field in ("interpolation", "extrapolation"):
            object.__setattr__(self, field, normalize_distribution(getattr(self, field), field))
        n = self.samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"samples: must be a positive integer, got {n!r}")
        object.__setattr__(self, "samples", int(n))

    def check_dtype(self, dtype: Any) -> None:
        """:class:`ConfigError` when a distribution's parameter is not a finite normal number of the
        run's dtype (the targets of div are unbounded, as in the reference, and not checked)."""
        finfo = torch.finfo(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
        for field in ("interpolation", "extrapolation"):
            for v in getattr(self, field)[1:]:
                if abs(v) > finfo.max or 0 < abs(v) < finfo.tiny:
                    raise ConfigError(f"{field}: {v:g} is not a normal number of {finfo.dtype}")

    def label(self) -> str:
        """``train=TN(-3..3) extrap=TN(8..10)``: the published CSV's task suffix."""
        return f"train={distribution_label(self.interpolation)} extrap={distribution_label(self.extrapolation)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "interpolation": list(self.interpolation),
            "extrapolation": list(self.extrapolation),
            "samples": self.samples,
        }

    # ---------------------------------------------------------------- the fixed sets
    def inputs(self, which: str, seed: int) -> np.ndarray:
        """The fixed float64 inputs ``[samples, 2]`` of run ``seed``: ``which`` is ``"train"``,
        ``"interpolation"`` or ``"extrapolation"`` (read-only, cached)."""
        if which not in _DRAWS:
            raise ConfigError(f"split: expected train, interpolation or extrapolation, got {which!r}")
        dist = self.extrapolation if which == "extrapolation" else self.interpolation
        return _fixed_set(dist, self.samples, check_seed(seed), which)

    def targets(self, which: str, seed: int) -> np.ndarray:
        """float64 targets ``[samples]`` of run ``seed``'s set ``which``."""
        return _targets(self.op, self.inputs(which, seed))

    def batches_per_epoch(self, batch_size: int) -> int:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size: must be a positive integer, got {batch_size!r}")
        if self.samples % batch_size:
            raise ConfigError(
                f"batch_size: {batch_size} does not divide the {self.samples:,} training rows "
                "(an epoch is a whole number of batches, as in the reference)"
            )
        return self.samples // int(batch_size)

    def train_batch(
        self,
        seeds: Sequence[int],
        step: int,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Rows ``[b·B, (b+1)·B)`` of each run's training set, ``b = step mod (samples / B)``:
        inputs ``[S, B, 2]`` and targets ``[S, B, 1]`` (views of cached tensors: do not modify)."""
        if isinstance(step, (Tensor, bool)) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ConfigError(f"step: must be a non-negative integer, got {step!r}")
        b = int(step) % self.batches_per_epoch(batch_size)
        dev = str(torch.device("cpu" if device is None else device))
        x, y = _stacked(self, tuple(int(s) for s in seeds), "train", dev, dtype)
        rows = slice(b * batch_size, (b + 1) * batch_size)
        return x[:, rows], y[:, rows]

    def evaluation_set(
        self,
        split: Split,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Each run's fixed set of the split: inputs ``[S, N, 2]``, targets ``[S, N, 1]``."""
        if split not in ("interpolation", "extrapolation"):
            raise ConfigError(f"split: expected 'interpolation' or 'extrapolation', got {split!r}")
        x, y = _build_stacked(self, tuple(int(s) for s in seeds), split)
        return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def _build_stacked(task: INALUArithmeticTask, seeds: tuple[int, ...], which: str) -> tuple[Tensor, Tensor]:
    xs = [task.inputs(which, s) for s in seeds]
    ys = [task.targets(which, s) for s in seeds]
    x = torch.from_numpy(np.stack(xs) if xs else np.zeros((0, task.samples, 2)))
    y = torch.from_numpy(np.stack(ys) if ys else np.zeros((0, task.samples))).unsqueeze(-1)
    return x, y


@functools.lru_cache(maxsize=16)
def _stacked(
    task: INALUArithmeticTask, seeds: tuple[int, ...], which: str, device: str, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """The training sets of ``seeds`` on the device in the run dtype, made once per training."""
    x, y = _build_stacked(task, seeds, which)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)
