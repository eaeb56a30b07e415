"""Names of the success-threshold policies (defined in :mod:`nalm.metrics`).

Torch-free on purpose: the CLI and the suite files validate a policy name without loading torch.
"""

from __future__ import annotations

THRESHOLD_POLICIES: tuple[str, ...] = (
    "madsen_r",
    "generator",
    "published",
    "fixed_1e-5",
    "simulated_eps_1e-4",
    "simulated_eps_1e-5",
)
