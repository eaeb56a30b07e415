"""The stream in torch: any device, every element independent elementwise work.

Integer arithmetic on int64 bit patterns (two's-complement wrap-around for the modular products,
masked arithmetic shifts for the logical ones); float steps as separate kernels (never a fused
multiply-add), so the values equal the numba kernels' bit for bit. Definition: ``docs/reproducibility.md``
("The data stream, precisely").
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .hashing import _S_GAMMA, ZERO_SALT, Precision, _lsr, _signed, mix64_torch


@functools.lru_cache(maxsize=64)
def _device_const(values: tuple, dtype: torch.dtype, device: str) -> Tensor:
    """Small constant tensors kept on their device (avoids a host-to-device copy per batch)."""
    return torch.tensor(values, dtype=dtype, device=device)


_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def range_tensors(lo: Any, width: Any, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """``lo``, ``width`` as device tensors: ``[K]`` shared by all runs, or ``[S, 1, 1]`` per run."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    if np.ndim(lo) == 2:
        return tuple(  # type: ignore[return-value]
            torch.as_tensor(np.asarray(a, np_dtype)[:, 0].copy(), device=device).view(-1, 1, 1)
            for a in (lo, width)
        )
    return tuple(  # type: ignore[return-value]
        _device_const(tuple(float(v) for v in np.asarray(a, np_dtype)), dtype, str(device)) for a in (lo, width)
    )


def _affine(u: Tensor, coin: Tensor | None, lo: Tensor, width: Tensor) -> Tensor:
    """``u · width[c] + lo[c]`` as two separate kernels (never a fused multiply-add).

    ``lo``/``width`` of shape ``[S, 1, 1]``: one range per run (no union)."""
    if lo.dim() == 3:
        t = u * width
        return t + lo
    if coin is None:
        t = u * width[0]
        return t + lo[0]
    t = u * width[coin]
    return t + lo[coin]


def may_draw_zero(lo: Any, width: Any) -> bool:
    """Whether ``fl32(fl32(u·w) + lo)`` can be exactly 0 for some range: only if ``lo ≤ 0 ≤ lo + w``
    (a sum of two floats is 0 only when they cancel exactly)."""
    lo32 = np.asarray(lo, np.float32).astype(np.float64)
    w32 = np.asarray(width, np.float32).astype(np.float64)
    return bool(np.any((lo32 <= 0) & (lo32 + w32 >= 0)))


def _redraw_zeros(
    x: Tensor, z: Tensor, L: int, c_hi: Tensor | None, c_lo: Tensor | None, lo_t: Tensor, w_t: Tensor
) -> Tensor:
    """The float32 stream's exact zeros replaced as the numba kernel does (``_kernels._redraw_zeros``):
    ``z2 = mix64(z ^ ZERO_SALT)``, 32 bits per column, mapped in float64 and rounded once."""
    z2 = mix64_torch(z ^ _signed(ZERO_SALT))
    u_hi = _lsr(z2, 32).to(torch.float64) * 2.0**-32
    u_lo = (z2[..., :L] & 0xFFFFFFFF).to(torch.float64) * 2.0**-32
    lo64, w64 = lo_t.to(torch.float64), w_t.to(torch.float64)
    r_hi = _affine(u_hi, c_hi, lo64, w64)
    r = torch.cat([r_hi[..., :L], _affine(u_lo, c_lo, lo64, w64), r_hi[..., L:]], dim=-1)
    return torch.where(x == 0, r.to(torch.float32), x)


def _torch_subset_sums(
    x: Tensor, sub_start: np.ndarray, sub_end: np.ndarray, starts_dev: list[Tensor] | None = None
) -> Tensor:
    """float64 subset sums in the numba kernel's order (four interleaved accumulators)."""
    S, rows, _ = x.shape
    device = x.device
    K = sub_start.shape[1]
    sums = torch.zeros((S, rows, K), dtype=torch.float64, device=device)
    for k in range(K):
        size = sub_end[:, k] - sub_start[:, k]
        if S == 0 or size[0] == 0:
            continue
        if (size != size[0]).any():
            raise ValueError("the torch backend needs each subset to have one size across runs")
        m = int(size[0])
        starts = (
            starts_dev[k]
            if starts_dev is not None
            else torch.as_tensor(sub_start[:, k], dtype=torch.int64, device=device)
        )
        idx = starts.view(S, 1, 1) + torch.arange(m, device=device).view(1, 1, m)
        cols = torch.gather(x, 2, idx.expand(S, rows, m)).to(torch.float64)
        # element j -> lane j % 4, lanes accumulated left to right; zero padding at the end is exact
        pad = (-m) % 4
        if pad:
            cols = torch.cat([cols, cols.new_zeros((S, rows, pad))], dim=-1)
        lanes = cols.view(S, rows, -1, 4)
        acc = torch.zeros((S, rows, 4), dtype=torch.float64, device=device)
        for j in range(lanes.shape[2]):
            acc = acc + lanes[:, :, j]
        sums[..., k] = (acc[..., 0] + acc[..., 1]) + (acc[..., 2] + acc[..., 3])
    return sums


def fill_uniform_torch(
    bases: Tensor,
    rows: int,
    n: int,
    lo: np.ndarray,
    width: np.ndarray,
    sub_start: np.ndarray,
    sub_end: np.ndarray,
    *,
    precision: Precision,
    starts_dev: list[Tensor] | None = None,
    ranges_dev: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """Torch implementation of :func:`fill_uniform`; ``bases`` is an int64 tensor on the target device.

    ``starts_dev``: the columns of ``sub_start`` already on the device (optional, saves copies).
    ``lo``/``width`` may also be ``[S, 1]``: one (non-union) range per run, each run's values equal
    to those of a call with its range alone; ``ranges_dev``: their :func:`range_tensors`, prepared.
    """
    device = bases.device
    S = bases.shape[0]
    base = bases.view(S, 1, 1)
    per_run = np.ndim(lo) == 2
    union = not per_run and len(lo) == 2
    b = torch.arange(rows, device=device, dtype=torch.int64).view(1, rows, 1)
    if precision == "float32":
        H, L = (n + 1) // 2, n // 2
        lo_t, w_t = ranges_dev or range_tensors(lo, width, torch.float32, device)
        q = torch.arange(1, H + 1, device=device, dtype=torch.int64).view(1, 1, H)
        z = mix64_torch(base + (b * H + q) * _S_GAMMA)  # [S, rows, H]
        u_hi = _lsr(z, 40).to(torch.float32) * 2.0**-24
        u_lo = ((z[..., :L] >> 8) & 0xFFFFFF).to(torch.float32) * 2.0**-24
        c_hi = (_lsr(z, 39) & 1) if union else None
        c_lo = ((z[..., :L] >> 7) & 1) if union else None
        x_hi = _affine(u_hi, c_hi, lo_t, w_t)  # columns [0, L) and, for odd n, column n - 1
        x = torch.cat([x_hi[..., :L], _affine(u_lo, c_lo, lo_t, w_t), x_hi[..., L:]], dim=-1)
        if may_draw_zero(lo, width):
            x = _redraw_zeros(x, z, L, c_hi, c_lo, lo_t, w_t)
    elif precision == "float64":
        lo_t, w_t = ranges_dev or range_tensors(lo, width, torch.float64, device)
        q = torch.arange(1, n + 1, device=device, dtype=torch.int64).view(1, 1, n)
        z = mix64_torch(base + (b * n + q) * _S_GAMMA)  # [S, rows, n]
        u = _lsr(z, 11).to(torch.float64) * 2.0**-53
        x = _affine(u, (z & 1) if union else None, lo_t, w_t)
    else:
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    return x, _torch_subset_sums(x, sub_start, sub_end, starts_dev)
