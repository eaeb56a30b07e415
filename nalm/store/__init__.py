"""SQLite results store: one file holds every benchmark run, its config and its learning curve.

Guarantees the benchmark runner relies on:

* **Resume without duplicates.** A run is identified by ``(config_hash, seed)`` (a UNIQUE constraint);
  :meth:`ResultsStore.finished_seeds` tells the runner what to skip, and writing a run that is already
  stored is a no-op, so two runners racing on one cell cannot duplicate it either.
* **A killed process loses at most the cell in flight.** :meth:`ResultsStore.write_cell` writes all
  runs of a cell, their curves and the cell's membership in one ``BEGIN IMMEDIATE`` transaction; SQLite's
  journal rolls an interrupted transaction back on the next open, so a cell is either fully there or
  absent.
* **Several processes may write one file.** WAL mode lets readers proceed during a write, writers
  serialise on SQLite's lock, and ``busy_timeout`` makes a writer wait for the lock instead of failing.

Torch-free (the report reads the store on machines without torch).

Non-finite metrics: SQLite stores ±inf as REAL but turns NaN into NULL, so a NULL in a metric column
means NaN (a diverged run's MSE); :class:`RunResult` values come back as ``float('nan')``. Curves are
stored as binary float64 columns, which keep NaN and ±inf bit for bit.
"""

from .database import ResultsStore
from .records import CellRecord, StoredRun, StoreError, canonical_config_json, config_hash
from .schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "CellRecord",
    "ResultsStore",
    "StoreError",
    "StoredRun",
    "canonical_config_json",
    "config_hash",
]
