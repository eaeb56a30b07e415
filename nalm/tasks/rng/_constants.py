"""Integer constants of the stream that the numba kernels need, in a module free of torch: the
background compile (:mod:`._compile`) imports the kernels without paying for torch's import."""

from __future__ import annotations

#: Salt of the second hash that redraws a float32 value that came out exactly 0 (the float32 stream).
ZERO_SALT = 0xD1B54A32D192ED03
