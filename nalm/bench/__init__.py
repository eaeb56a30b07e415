"""Benchmark suites: published arithmetic-unit experiments as data, run into a results store.

* :mod:`nalm.bench.schema` — the suite TOML format, validated into frozen pydantic models;
* :mod:`nalm.bench.filters` — the ``--only`` filter syntax;
* :mod:`nalm.bench.plan` — a suite + profile (+ filter, seed override) expanded into cells, with their
  tasks and recipes from :mod:`nalm.bench.build` and their store configs from :mod:`nalm.bench.config`;
* :mod:`nalm.bench.runner` — cells trained (one batched call per cell) and written to SQLite.

The packaged suites live in ``nalm/bench/suites/*.toml``: ``article``, ``madsen2020``,
``primer2022`` and ``npu2020``. Nothing is imported here, so ``import nalm.bench`` stays light;
pydantic is needed only once a suite is loaded (the ``bench`` extra).
"""

from __future__ import annotations

from nalm._lazy import lazy_exports

_LAZY = {
    "load_suite": "nalm.bench.schema",
    "parse_suite": "nalm.bench.schema",
    "packaged_suites": "nalm.bench.schema",
    "plan_cells": "nalm.bench.plan",
    "parse_filter": "nalm.bench.filters",
    "run_cells": "nalm.bench.runner",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
