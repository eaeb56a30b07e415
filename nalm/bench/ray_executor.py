"""Train a suite's units on a Ray cluster: one Ray task per unit, the database written by the driver.

``nalm bench SUITE --executor ray [--address auto|HOST:PORT] [--cpus-per-task N] [--gpus-per-task F]``.
The plan is the local one (cells, or grouped batches with ``--group-runs``); each unit
(:class:`~nalm.bench.runner.WorkUnit`: cells, missing seeds, thresholds) is sent to a worker, trained by
the same :func:`~nalm.bench.runner.train_unit` as locally, and its runs are returned to the driver,
which alone writes the SQLite database, one unit per transaction, as units finish. So the store's
guarantees hold unchanged: a driver killed and rerun resumes from the database; nothing is half
written.

Faults: a worker process that dies (killed, out of memory, a lost node) is retried by Ray up to
``max_retries`` times; a unit that still fails is recorded as failed runs and the rest go on. An
exception inside training is not retried (it would fail again): :func:`train_unit` returns it as the
unit's error, exactly as the local executor records it.

Same numbers: a worker sets torch's intra-op threads to the unit's CPUs (``--cpus-per-task``, default 1)
— the only setting that could change a result's last bits; the local executor is compared against it
bit for bit in the tests with equal thread counts.

Ray is an optional dependency (``pip install 'nalm[ray]'``); this module imports it only when an
executor is made.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

from nalm.errors import ConfigError

from .runner import UnitResult, WorkUnit, train_unit

#: Retries of a unit whose worker died (Ray's own retry of a crashed task).
DEFAULT_MAX_RETRIES = 3


def _train_on_worker(
    unit: WorkUnit, device: str, compile: bool | str, cuda_graph: bool, threads: int
) -> UnitResult:
    import torch

    torch.set_num_threads(threads)
    return train_unit(unit, device, compile=compile, cuda_graph=cuda_graph)


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """:class:`ConfigError` unless ``HOST:PORT`` accepts a TCP connection within ``timeout_s``."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address: expected auto or HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError(f"--address: cannot reach the Ray head at {address}: {exc.strerror or exc}") from None


class RayExecutor:
    """Runs units as Ray tasks (see the module docstring). ``address``: None starts a local Ray
    instance for this process (all its CPUs unless ``num_cpus``); ``"auto"`` or ``HOST:PORT`` joins a
    running cluster."""

    def __init__(
        self,
        *,
        address: str | None = None,
        cpus_per_task: float = 1.0,
        gpus_per_task: float = 0.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        num_cpus: int | None = None,
    ) -> None:
        if not cpus_per_task > 0:
            raise ConfigError(f"--cpus-per-task: must be positive, got {cpus_per_task}")
        if not gpus_per_task >= 0:
            raise ConfigError(f"--gpus-per-task: must be 0 or more, got {gpus_per_task}")
        if max_retries < 0:
            raise ConfigError(f"max_retries: must be 0 or more, got {max_retries}")
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--executor ray: Ray is not installed; pip install 'nalm[ray]'"
            ) from None
        self._ray = ray
        self.cpus_per_task = float(cpus_per_task)
        self.gpus_per_task = float(gpus_per_task)
        self.max_retries = int(max_retries)
        if address not in (None, "auto", "local") and not address.startswith("ray://"):
            _check_reachable(address)  # Ray itself retries an unreachable head for minutes
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address, num_cpus=num_cpus, include_dashboard=False,
                    log_to_driver=False, configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local Ray instance"
                raise ConfigError(f"--address: cannot connect to {where}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        cluster = ray.cluster_resources()
        if cluster.get("CPU", 0) < self.cpus_per_task:
            raise ConfigError(
                f"--cpus-per-task: {cpus_per_task:g} CPUs per unit, but the Ray cluster has "
                f"{cluster.get('CPU', 0):g}"
            )
        if self.gpus_per_task and cluster.get("GPU", 0) < self.gpus_per_task:
            raise ConfigError(
                f"--gpus-per-task: {gpus_per_task:g} GPUs per unit, but the Ray cluster has "
                f"{cluster.get('GPU', 0):g}"
            )
        self._remote = ray.remote(
            num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task, max_retries=self.max_retries,
            retry_exceptions=False,
        )(_train_on_worker)

    def run(
        self, units: Sequence[WorkUnit], device: str, bar: Any, *, compile: bool | str = False,
        cuda_graph: bool = False,
    ) -> Iterator[tuple[WorkUnit, UnitResult]]:
        """Submit every unit, then yield ``(unit, result)`` as units finish (the driver writes each
        at once). The bar counts the seed-iterations of finished units; its postfix shows the units
        in flight."""
        ray = self._ray
        threads = max(1, int(self.cpus_per_task))
        pending = {
            self._remote.remote(unit, device, compile, cuda_graph, threads): unit for unit in units
        }
        started = time.perf_counter()
        while pending:
            bar.set_postfix_str(f"{len(pending)} units in flight", refresh=True)
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                unit = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 — retries spent: recorded as failed
                    error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                    result = UnitResult(None, time.perf_counter() - started, None, error)
                bar.update(unit.work)
                yield unit, result
