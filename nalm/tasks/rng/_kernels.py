"""numba kernels of :mod:`nalm.tasks.rng` (imported lazily: importing this module loads numba).

The integer arithmetic is the one defined in ``docs/reproducibility.md`` ("The data stream,
precisely"). Every integer operation is written
in uint64 so numba never promotes to float; float steps are a separate multiply and add (numba does
not contract them into a fused multiply-add without fastmath), so the results equal the torch
implementation bit for bit. The one-range float32 loop is branch-free and vectorises (AVX2).
Counters advance by adding the increment (``base + (i + 1)·G`` as a running sum): the same values,
but one 64-bit multiply fewer per hash, which AVX2 emulates with three 32-bit ones (~18% of the
float32 fill).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._constants import KERNEL_FUNCTIONS
from ._constants import ZERO_SALT as _ZERO_SALT_INT

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S7 = np.uint64(7)
_S8 = np.uint64(8)
_S11 = np.uint64(11)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S39 = np.uint64(39)
_S40 = np.uint64(40)
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_THREE = np.uint64(3)
_M24 = np.uint64(0xFFFFFF)
_F24 = np.float32(2.0**-24)
_D53 = 2.0**-53
_S32 = np.uint64(32)
_M32 = np.uint64(0xFFFFFFFF)
_D32 = 2.0**-32
_ZERO_SALT = np.uint64(_ZERO_SALT_INT)


@numba.njit(inline="always")
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(inline="always")
def _subset_sums(row, s, b, sub_start, sub_end, out_sums):  # pragma: no cover - compiled
    """float64 sum of ``row[start:end]`` per subset with four interleaved accumulators.

    Element ``j`` of the subset goes to accumulator ``j % 4`` (left to right); the result is
    ``(a0 + a1) + (a2 + a3)``. Four independent chains hide the latency of the float adds.
    """
    for k in range(sub_start.shape[1]):
        lo = sub_start[s, k]
        m = sub_end[s, k] - lo
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        full = m - (m % 4)
        # Unsigned indices: numba then emits no negative-index wrap-around test per load.
        ulo = np.uint64(lo)
        for q in range(np.uint64(0), np.uint64(full), np.uint64(4)):
            i = ulo + q
            a0 += np.float64(row[i])
            a1 += np.float64(row[i + _ONE])
            a2 += np.float64(row[i + _TWO])
            a3 += np.float64(row[i + _THREE])
        rem = m - full
        if rem > 0:
            a0 += np.float64(row[lo + full])
        if rem > 1:
            a1 += np.float64(row[lo + full + 1])
        if rem > 2:
            a2 += np.float64(row[lo + full + 2])
        out_sums[s, b, k] = (a0 + a1) + (a2 + a3)


@numba.njit(inline="always")
def _zeros_in(row, n):  # pragma: no cover - compiled
    """How many values of ``row[:n]`` are exactly 0 (a branch-free count, vectorised)."""
    count = 0
    for j in range(n):
        count += row[j] == 0
    return count


@numba.njit(inline="always")
def _redraw_zeros(row, base, n, L, union, lo0, w0, lo, width, lr):  # pragma: no cover - compiled
    """Replace every exact 0 of a float32 row by a draw from a second hash, mapped in float64.

    The 24-bit grid puts mass 2^-24 on exactly 0 in ranges that hold 0 (U[0, r], U[-2, 2]), and an
    exact 0 as a divisor freezes a run. Column ``j``'s hash ``z`` gives ``z2 = mix(z ^ ZERO_SALT)``;
    the high column of the hash takes ``u = (z2 >> 32) · 2^-32``, the low column ``u = (z2 & (2^32 - 1))
    · 2^-32``; ``x = fl32(u·w + lo)`` in float64 with the same coin (same member of a union). Values
    that are not 0 are untouched, so rows without a 0 keep their bits.
    """
    for j in range(n):
        if row[j] != 0:
            continue
        high = j < L or j == 2 * L
        p = j if j < L else (j - L if j < 2 * L else L)
        z = _mix(base + (np.uint64(p) + _ONE) * _G)
        z2 = _mix(z ^ _ZERO_SALT)
        if high:
            u = np.float64(z2 >> _S32) * _D32
            c = np.int64((z >> _S39) & _ONE)
        else:
            u = np.float64(z2 & _M32) * _D32
            c = np.int64((z >> _S7) & _ONE)
        if union:
            w = np.float64(width[lr, c])
            a = np.float64(lo[lr, c])
        else:
            w = np.float64(w0)
            a = np.float64(lo0)
        t = u * w
        row[j] = np.float32(t + a)


@numba.njit(inline="always")
def _row_f32(  # pragma: no cover - compiled
    bases, rows, n, union, lo0, w0, lo, width, sub_start, sub_end, out_x, out_sums, r, may_zero
):
    """Row ``r`` (run ``r // rows``, batch row ``r % rows``) of the float32 stream: two 24-bit
    uniforms per 64-bit hash.

    With ``L = n // 2`` and ``H = ceil(n / 2)`` hashes per row, hash ``p < L`` fills columns ``p``
    (bits 40-63) and ``L + p`` (bits 8-31); for odd ``n`` hash ``L`` fills column ``n - 1``
    (bits 40-63). Union coins are bits 39 and 7, choosing ``lo[lr, c]``/``width[lr, c]``; one
    range is ``lo0``/``w0``. (This layout, rather than interleaving, lets LLVM prove the two stores
    independent and vectorise the loop.)
    """
    H = (n + 1) // 2
    L = n // 2
    uL = np.uint64(L)  # unsigned loop indices: no wrap-around test per store
    s = r // rows
    b = r - s * rows
    base = bases[s] + (np.uint64(b) * np.uint64(H)) * _G
    row = out_x[s, b]
    if union:
        lr = s if lo.shape[0] > 1 else 0
        counter = base
        for p in range(uL):
            counter += _G
            z = _mix(counter)
            c = np.int64((z >> _S39) & _ONE)
            t = np.float32(np.int32(z >> _S40)) * _F24
            t = t * width[lr, c]
            row[p] = t + lo[lr, c]
            c = np.int64((z >> _S7) & _ONE)
            t = np.float32(np.int32((z >> _S8) & _M24)) * _F24
            t = t * width[lr, c]
            row[p + uL] = t + lo[lr, c]
        if H > L:
            z = _mix(counter + _G)
            c = np.int64((z >> _S39) & _ONE)
            t = np.float32(np.int32(z >> _S40)) * _F24
            t = t * width[lr, c]
            row[n - 1] = t + lo[lr, c]
    else:
        counter = base
        for p in range(uL):
            counter += _G
            z = _mix(counter)
            t = np.float32(np.int32(z >> _S40)) * _F24
            t = t * w0
            row[p] = t + lo0
            t = np.float32(np.int32((z >> _S8) & _M24)) * _F24
            t = t * w0
            row[p + uL] = t + lo0
        if H > L:
            z = _mix(counter + _G)
            t = np.float32(np.int32(z >> _S40)) * _F24
            t = t * w0
            row[n - 1] = t + lo0
    if may_zero and _zeros_in(row, n):
        _redraw_zeros(row, base, n, L, union, lo0, w0, lo, width, s if lo.shape[0] > 1 else 0)
    _subset_sums(row, s, b, sub_start, sub_end, out_sums)


@numba.njit(inline="always")
def _row_f64(bases, rows, n, lo, width, sub_start, sub_end, out_x, out_sums, r):  # pragma: no cover
    """Row ``r`` of the float64 stream: one 53-bit uniform per 64-bit hash; the union coin is the
    hash's lowest bit."""
    s = r // rows
    b = r - s * rows
    lr = s if lo.shape[0] > 1 else 0
    two_union = lo.shape[1] == 2
    base = bases[s] + (np.uint64(b) * np.uint64(n)) * _G
    row = out_x[s, b]
    counter = base
    for i in range(n):
        counter += _G
        z = _mix(counter)
        c = np.int64(z & _ONE) if two_union else 0
        t = np.float64(np.int64(z >> _S11)) * _D53
        t = t * width[lr, c]
        row[i] = t + lo[lr, c]
    _subset_sums(row, s, b, sub_start, sub_end, out_sums)


# The kernels: every row of every run on numba's threads (the caller caps them at one for small
# calls). ``keys`` are the runs' keys, ``smix`` the step's mix: each run's base for the step,
# mix64(key ^ smix), is computed here, once per run. (A serial twin of these loops, njit without
# parallel, ran 1.3-1.6x slower per row on one thread than the threaded kernel capped at one.)
#
# One float32 kernel per kind of range (a union, one range for all runs, one range per run) rather
# than one kernel branching on the ranges' shape: each prange loop inlines a whole row and becomes
# its own threaded function, so one kernel with the three loops took three times as long to compile
# (5.2 s against 1.7 s, idle 2-core VM), and a training run uses one kind.
# :data:`KERNELS` names them for :mod:`.backend` and :mod:`._compile`.


@numba.njit(inline="always")
def _bases(keys, smix):  # pragma: no cover - compiled
    bases = np.empty(keys.shape[0], dtype=np.uint64)
    for s in range(keys.shape[0]):
        bases[s] = _mix(keys[s] ^ smix)
    return bases


@numba.njit(inline="always")
def _may_zero(lo, width):  # pragma: no cover - compiled
    """Whether any range may give an exact 0: only one with lo <= 0 <= lo + w (two floats sum to 0
    only if they cancel); the rows of other ranges skip the zero scan."""
    may_zero = False
    for i in range(lo.shape[0]):
        for k in range(lo.shape[1]):
            a = np.float64(lo[i, k])
            if a <= 0.0 and a + np.float64(width[i, k]) >= 0.0:
                may_zero = True
    return may_zero


@numba.njit(parallel=True, cache=True, nogil=True)
def fill_f32_union(keys, smix, rows, n, lo, width, sub_start, sub_end, out_x, out_sums):  # pragma: no cover
    """The float32 stream over the two ranges of a union, ``lo``/``width`` ``[R, 2]``."""
    bases = _bases(keys, smix)
    may_zero = _may_zero(lo, width)
    for r in prange(keys.shape[0] * rows):
        _row_f32(
            bases, rows, n, True, lo[0, 0], width[0, 0], lo, width, sub_start, sub_end, out_x, out_sums, r,
            may_zero,
        )


@numba.njit(parallel=True, cache=True, nogil=True)
def fill_f32_shared(keys, smix, rows, n, lo, width, sub_start, sub_end, out_x, out_sums):  # pragma: no cover
    """The float32 stream with one range for all runs, ``lo``/``width`` ``[1, 1]``."""
    bases = _bases(keys, smix)
    may_zero = _may_zero(lo, width)
    lo0 = lo[0, 0]  # its bounds hoisted out of the loop
    w0 = width[0, 0]
    for r in prange(keys.shape[0] * rows):
        _row_f32(bases, rows, n, False, lo0, w0, lo, width, sub_start, sub_end, out_x, out_sums, r, may_zero)


@numba.njit(parallel=True, cache=True, nogil=True)
def fill_f32_per_run(keys, smix, rows, n, lo, width, sub_start, sub_end, out_x, out_sums):  # pragma: no cover
    """The float32 stream with one range per run, ``lo``/``width`` ``[S, 1]``."""
    bases = _bases(keys, smix)
    may_zero = _may_zero(lo, width)
    for r in prange(keys.shape[0] * rows):
        s = r // rows
        _row_f32(
            bases, rows, n, False, lo[s, 0], width[s, 0], lo, width, sub_start, sub_end, out_x, out_sums, r,
            may_zero,
        )


@numba.njit(parallel=True, cache=True, nogil=True)
def fill_f64(keys, smix, rows, n, lo, width, sub_start, sub_end, out_x, out_sums):  # pragma: no cover
    bases = _bases(keys, smix)
    for r in prange(keys.shape[0] * rows):
        _row_f64(bases, rows, n, lo, width, sub_start, sub_end, out_x, out_sums, r)


#: The kernels by name: ``"f32_union"``, ``"f32_shared"``, ``"f32_per_run"``, ``"f64"``.
KERNELS = {name: globals()[function] for name, function in KERNEL_FUNCTIONS.items()}


def kernel_name(precision: str, lo: np.ndarray) -> str:
    """The kernel drawing the ``precision`` stream with the kernels' ``[R, K]`` ranges ``lo``."""
    if precision == "float64":
        return "f64"
    if lo.shape[1] == 2:
        return "f32_union"
    return "f32_shared" if lo.shape[0] == 1 else "f32_per_run"
