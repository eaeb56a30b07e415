"""Each unit's default training recipe, as the reference experiments ran it, from their papers and reference code.

Three settings: ``"madsen2020"`` — the two-layer network of the static arithmetic task (5·10⁶
iterations; the *output* unit's regularizer schedule is shared by both layers), ``"primer2022"`` —
one module on the single-module task (5·10⁴ iterations, per-module recipes), and ``"schlor2020"`` —
the iNALU paper's experiment scripts, one recipe for every model (10⁵ iterations; see
:func:`schlor2020_recipe`).
Schedules are given for the protocol's iteration count and scaled proportionally when a shorter
(or longer) run is requested, so a quick profile keeps the same shape of training.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from nalm.errors import ConfigError

from .hooks import INALUReinitialization, INALUScriptReinitialization
from .recipe import OptimizerSpec, PenaltySteps, TrainRecipe
from .schedules import ExpGrowth, GatedConstant, LinearRamp, Schedule, StepExponential

Setting = Literal["madsen2020", "primer2022", "schlor2020", "heim2020"]
PROTOCOL_ITERATIONS: dict[str, int] = {
    "madsen2020": 5_000_000, "primer2022": 50_000, "schlor2020": 100_000, "heim2020": 100_000,
}
#: The reference experiments' batch size (both settings).
DEFAULT_BATCH_SIZE = 128


def _ramp(scale: float, start: int, end: int, factor: float) -> LinearRamp:
    return LinearRamp(scale, round(start * factor), max(round(end * factor), round(start * factor) + 1))


def default_recipe(
    output_unit: str,
    op: str,
    *,
    setting: Setting = "primer2022",
    input_size: int = 2,
    iterations: int | None = None,
    lr: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    eval_every: int = 1000,
) -> TrainRecipe:
    """The reference recipe for a model whose arithmetic (last) unit is ``output_unit``."""
    if setting not in PROTOCOL_ITERATIONS:
        raise ConfigError(f"setting: unknown setting {setting!r} (madsen2020, primer2022, schlor2020, heim2020)")
    if setting == "schlor2020":
        return schlor2020_recipe(iterations=iterations, lr=lr, batch_size=batch_size, eval_every=eval_every)
    if setting == "heim2020":
        return heim2020_recipe(output_unit, op, iterations=iterations, lr=lr, batch_size=batch_size,
                               eval_every=eval_every)
    protocol = PROTOCOL_ITERATIONS[setting]
    if setting == "primer2022" and input_size > 2 and output_unit in ("nau", "nru", "nmru"):
        protocol = 100_000  # the redundant-input variants run twice as long
    total = protocol if iterations is None else iterations
    factor = total / protocol
    optimizer = OptimizerSpec("adam", 1e-3)
    regularizers: dict[str, Schedule] = {}
    extra: dict[str, object] = {}

    if setting == "madsen2020":
        if output_unit in ("nmu", "nac_mul_nmu", "gated_nau_nmu", "snmu"):
            regularizers["sparsity"] = _ramp(10.0, 1_000_000, 2_000_000, factor)
        elif output_unit == "nau":
            regularizers["sparsity"] = _ramp(0.01, 5_000, 50_000, factor)
    else:
        late = input_size > 2
        start, end = (50_000, 75_000) if late else (20_000, 35_000)
        if output_unit == "nau":
            regularizers["sparsity"] = _ramp(0.01, start, end, factor)
        elif output_unit in ("nmu", "snmu", "nac_mul_nmu", "gated_nau_nmu"):
            regularizers["sparsity"] = _ramp(10.0, start, end, factor)
        elif output_unit in ("npu", "real_npu", "naive_npu"):
            optimizer = OptimizerSpec("adam", 5e-3)
            beta = (1e-9, 1e-7) if op == "div" else (1e-7, 1e-5)
            every = max(1, round(10_000 * factor))
            regularizers["l1"] = StepExponential(beta[0], beta[1], 10.0, every)
        elif output_unit == "inalu":
            extra["clip_grad_value"] = 0.1
            regularizers["inalu"] = GatedConstant(0.05, after=round(10_000 * factor), below=1.0)
            extra["hooks"] = (INALUReinitialization(min_history=max(10, round(5000 * factor))),)
        elif output_unit == "nru":
            optimizer = OptimizerSpec("adam", 1e-3 if late else 1.0)
            regularizers["sparsity"] = _ramp(10.0, start, end, factor)
        elif output_unit == "nmru":
            optimizer = OptimizerSpec("adam", 1e-2)
            extra["clip_grad_norm"] = 1.0
            regularizers["sparsity"] = _ramp(10.0, start, end, factor)

    if lr is not None:
        optimizer = replace(optimizer, lr=lr)
    return TrainRecipe(
        iterations=total,
        optimizer=optimizer,
        batch_size=batch_size,
        eval_every=eval_every,
        regularizers=regularizers,
        **extra,  # type: ignore[arg-type]
    )


#: The iNALU scripts' alternation: in every block of 10 batches, 8 update the weights, 2 the gate.
SCHLOR2020_CYCLE: tuple[str, ...] = ("weights",) * 8 + ("gate",) * 2


def schlor2020_recipe(
    *,
    iterations: int | None = None,
    lr: float | None = None,
    batch_size: int = 64,
    eval_every: int = 1000,
) -> TrainRecipe:
    """The training of the iNALU paper's experiment scripts (daschloer/inalu
    ``nalu_syn_simple_arith.py``), the same for NALU and iNALU models:

    * 100 epochs of 1,000 batches of 64 (10⁵ updates), TF1 RMSProp with lr 0.01
      (:class:`~nalm.training.optim.StackedRMSPropTF1`), gradients clipped by value to ±0.1;
    * in every block of 10 updates, 8 update only the weights and 2 only the gate
      (:attr:`TrainRecipe.update_cycle`);
    * from epoch 11 on (update 11,000), a run whose batch MSE is below 1 takes two extra steps on
      ``0.05 · Σ_P mean(max(20 − |P|, 0))`` alone, weights then gate (:class:`PenaltySteps`);
    * re-initialisation of a stalled run to U(−2, 2) in epochs 10, 20, …
      (:class:`~nalm.training.hooks.INALUScriptReinitialization`);
    * evaluation once per epoch (``eval_every`` = 1,000) and scoring of the **final** point
      (``selection="final"``: results.py reads each run's last log line).

    With ``iterations`` other than 10⁵ the step counts of the penalty and the re-initialisation rule
    are scaled by ``iterations / 10⁵`` (an epoch of data stays 1,000 batches).
    """
    protocol = PROTOCOL_ITERATIONS["schlor2020"]
    total = protocol if iterations is None else iterations
    factor = total / protocol
    every = max(1, round(10_000 * factor))
    return TrainRecipe(
        iterations=total,
        optimizer=OptimizerSpec("rmsprop_tf1", 0.01 if lr is None else lr),
        batch_size=batch_size,
        eval_every=eval_every,
        clip_grad_value=0.1,
        hooks=(INALUScriptReinitialization(
            every=every, window=min(every, max(1, round(1_000 * factor))),
            min_history=round(10_000 * factor),
        ),),
        update_cycle=SCHLOR2020_CYCLE,
        penalty_steps=PenaltySteps(0.05, 20.0, ("weights", "gate"), after=round(11_000 * factor), below=1.0),
        selection="final",
    )


#: The NPU paper's large-scale task (``scripts/arithmetic/sobolconfigs.jl``): per operation the
#: learning rate and the β schedule's (start, end); ×10 every 10,000 updates.
HEIM2020_LARGE: dict[str, tuple[float, float, float]] = {
    "add": (1e-2, 1e-5, 1e-4),
    "mul": (5e-3, 1e-5, 1e-4),
    "div": (5e-3, 1e-9, 1e-7),
    "root": (5e-3, 1e-6, 1e-4),
}
#: The run scripts' exceptions for the NMU: (iterations, β start) (``add_l1_runs.jl``,
#: ``mult_l1_runs.jl``); the β end stays the operation's.
HEIM2020_NMU: dict[str, tuple[int, float]] = {"add": (10_000, 1e-7), "mul": (20_000, 1e-9)}
#: Which whole-network norm β scales (see :data:`nalm.training.recipe.MODEL_REGULARIZERS`).
HEIM2020_PENALTY = "param_norms"


def heim2020_protocol_iterations(output_unit: str, op: str) -> int:
    """Updates of the NPU paper's run of ``output_unit`` on ``op`` (10⁵; the NMU's exceptions)."""
    if output_unit == "nmu" and op in HEIM2020_NMU:
        return HEIM2020_NMU[op][0]
    return 20_000 if op == "all" else PROTOCOL_ITERATIONS["heim2020"]


def heim2020_recipe(
    output_unit: str,
    op: str,
    *,
    iterations: int | None = None,
    lr: float | None = None,
    batch_size: int = 128,
    eval_every: int = 1000,
    penalty: str = HEIM2020_PENALTY,
) -> TrainRecipe:
    """The training of the NPU paper's scripts (nmheim/NeuralPowerUnits), scored at the final step.

    * ``op = "all"``, the simple task (``scripts/simple/run.jl``): Adam with lr 5·10⁻³ (the paper's
      text: 10⁻³; a NALU network: RMSProp, lr 5·10⁻³), no penalty, 20,000 updates.
    * ``op`` in add / mul / div / root, the large-scale task (``scripts/arithmetic/*_l1_runs.jl``):
      Flux's RMSProp (ρ = 0.9, ε = 10⁻⁸ outside the root: ``torch.optim.RMSprop(alpha=0.9,
      eps=1e-8)``), loss MSE + β·‖θ‖ over every parameter of the network with β ×10 every 10,000
      updates from its start to its end (:class:`~nalm.training.schedules.ExpGrowth`, the scripts'
      counting), learning rates and β per operation as :data:`HEIM2020_LARGE`, 10⁵ updates; the NMU
      on add runs 10⁴ updates from β 10⁻⁷, on mul 2·10⁴ from 10⁻⁹ (:data:`HEIM2020_NMU`).
      ``penalty``: ``"param_norms"`` (the scripts' ``norm(ps, 1)``, default) or ``"param_l1"`` (the
      paper's ‖θ‖₁).

    ``iterations`` other than the protocol's keeps the protocol's schedule (a shorter run is the
    protocol run stopped early).
    """
    protocol = heim2020_protocol_iterations(output_unit, op)
    total = protocol if iterations is None else iterations
    if op == "all":
        # run.jl: ADAM(5e-3); the NALU network RMSProp(5e-3) (Flux's ρ = 0.9, ε = 1e-8)
        optimizer = (OptimizerSpec("rmsprop", 5e-3 if lr is None else lr, {"alpha": 0.9, "eps": 1e-8})
                     if output_unit == "nalu" else OptimizerSpec("adam", 5e-3 if lr is None else lr))
        return TrainRecipe(
            iterations=total, optimizer=optimizer, batch_size=batch_size, eval_every=eval_every,
            selection="final",
        )
    if op not in HEIM2020_LARGE:
        raise ConfigError(f"op: heim2020 has no recipe for {op!r} (all, {', '.join(HEIM2020_LARGE)})")
    if penalty not in ("param_norms", "param_l1"):
        raise ConfigError(f"penalty: expected 'param_norms' or 'param_l1', got {penalty!r}")
    op_lr, beta_start, beta_end = HEIM2020_LARGE[op]
    if output_unit == "nmu" and op in HEIM2020_NMU:
        beta_start = HEIM2020_NMU[op][1]
    return TrainRecipe(
        iterations=total,
        optimizer=OptimizerSpec("rmsprop", op_lr if lr is None else lr, {"alpha": 0.9, "eps": 1e-8}),
        batch_size=batch_size,
        eval_every=eval_every,
        regularizers={penalty: ExpGrowth(beta_start, beta_end, 10.0, 10_000)},
        selection="final",
    )
