"""Integer constants of the stream that the numba kernels need, in a module free of torch: the
background compile (:mod:`._compile`) imports the kernels without paying for torch's import."""

from __future__ import annotations

#: Salt of the second hash that redraws a float32 value that came out exactly 0 (the float32 stream).
ZERO_SALT = 0xD1B54A32D192ED03

#: The numba kernels by name (``_kernels.KERNELS``) and the function of ``_kernels`` behind each: named
#: here so that :mod:`.backend` can look for a kernel's cache files before numba is imported.
KERNEL_FUNCTIONS = {
    "f32_union": "fill_f32_union",
    "f32_shared": "fill_f32_shared",
    "f32_per_run": "fill_f32_per_run",
    "f64": "fill_f64",
}
