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
    # Mistry et al. 2021's division by small numbers: the MSE of the unit's hand-set gold weights on
    # the task's test set plus float32 epsilon, one policy per unit (nalm.metrics.thresholds)
    "gold_nru",
    "gold_nmru",
    "gold_real_npu",
    # Sequential MNIST (Madsen & Johansen 2020): success is per test length, against thresholds from
    # the suite's reference runs, judged after training (nalm.training.sequential_mnist); the trainer's
    # single threshold is 0, a placeholder no run is below
    "reference_runs",
)

#: Policies whose success test is ``extrapolation MSE <= threshold`` (the divBy0 R script's rule);
#: every other policy's is strictly below (``<``), as in Madsen's and the Primer's R scripts.
INCLUSIVE_POLICIES: frozenset[str] = frozenset({"gold_nru", "gold_nmru", "gold_real_npu"})
