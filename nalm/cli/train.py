"""``nalm train`` — one ad-hoc benchmark cell: S seeds of one model on one task, trained at once."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from nalm.errors import ConfigError

from .task import parse_range


def run_cell(
    *,
    unit: str,
    unit2: str | None,
    op: str,
    input_size: int,
    interp: Any,
    extrap: Any,
    seeds: list[int],
    iterations: int,
    hidden: int,
    lr: float | None,
    subset_ratio: float | None,
    overlap_ratio: float | None,
    threshold_policy: str | None,
    device: str,
    dtype: str,
    progress: Any = None,
    compile: bool = False,
    cuda_graph: bool = False,
) -> dict[str, Any]:
    """Build the task, model and recipe of one cell, train it, and summarise it as a dict.

    Training, thresholds and the per-run summary are :mod:`nalm.bench.runner`'s, shared with
    ``nalm bench``.
    """
    from nalm.bench.runner import run_json, summarize_runs, train_and_score
    from nalm.tasks.static import StaticArithmeticTask
    from nalm.training import ModelSpec
    from nalm.training.recipes import default_recipe

    two_layer = unit2 is not None
    if two_layer:
        task = StaticArithmeticTask(
            op,
            input_size=input_size,
            subset_ratio=0.25 if subset_ratio is None else subset_ratio,
            overlap_ratio=0.5 if overlap_ratio is None else overlap_ratio,
            interpolation_range=interp,
            extrapolation_range=extrap,
        )
        spec = ModelSpec((unit, unit2), input_size, 1, hidden=hidden)
        recipe = default_recipe(unit2, op, setting="madsen2020", iterations=iterations, lr=lr)
    else:
        from nalm.tasks.static import SingleModuleTask

        task = SingleModuleTask(
            op,
            input_size=input_size,
            subset_ratio=(1 / input_size) if subset_ratio is None else subset_ratio,
            overlap_ratio=0.0 if overlap_ratio is None else overlap_ratio,
            interpolation_range=interp,
            extrapolation_range=extrap,
        )
        spec = ModelSpec((unit,), input_size, 1)
        recipe = default_recipe(
            unit, op, setting="primer2022", input_size=input_size, iterations=iterations, lr=lr
        )
    out, estimate = train_and_score(
        spec, task, seeds, recipe, threshold_policy=threshold_policy, device=device, dtype=dtype,
        progress=progress, compile=compile, cuda_graph=cuda_graph,
    )
    return {
        "model": spec.describe(),
        "task": {"op": op, "input_size": input_size, "interp": str(interp), "extrap": str(extrap)},
        "iterations": iterations,
        **summarize_runs(out.runs),
        "threshold": estimate.value,
        "threshold_policy": estimate.policy,
        "seed_iterations_per_second": out.seed_iterations_per_second,
        "wall_time_s": out.wall_time_s,
        "runs": [run_json(r) for r in out.runs],
    }


def _format(summary: dict[str, Any]) -> str:
    rate, low, high = summary["success_rate"], summary["ci_low"], summary["ci_high"]
    median = summary["solved_at_median"]
    lines = [
        f"{summary['model']} on {summary['task']['op']}, interpolation {summary['task']['interp']}"
        f" → extrapolation {summary['task']['extrap']}, {summary['iterations']} iterations",
        f"success rate {rate:.0%} (95% Wilson interval {low:.0%}–{high:.0%}) of "
        f"{len(summary['runs'])} seeds; median solved at "
        f"{'—' if median is None else f'{median:.0f}'}; threshold {summary['threshold']:.4g} "
        f"({summary['threshold_policy']})",
        f"{summary['seed_iterations_per_second']:.0f} seed-iterations/s, "
        f"{summary['wall_time_s']:.1f} s",
        "",
        f"{'seed':>5} {'status':>9} {'solved':>6} {'solved at':>9} {'interp MSE':>11} "
        f"{'extrap MSE':>11} {'sparsity':>9}",
    ]

    def num(v: float | None) -> str:
        return "—" if v is None else f"{v:.3g}"

    for run in summary["runs"]:
        lines.append(
            f"{run['seed']:>5} {run['status']:>9} {'yes' if run['solved'] else 'no':>6} "
            f"{'—' if run['solved_at'] is None else run['solved_at']:>9} "
            f"{num(run['interpolation_mse']):>11} {num(run['extrapolation_mse']):>11} "
            f"{num(run['sparsity_error']):>9}"
        )
    return "\n".join(lines)


@click.command()
@click.option("--unit", required=True, help="Unit name (see `nalm.available_units()`).")
@click.option("--unit2", default=None, help="Second unit: a two-layer unit → hidden → unit2 model.")
@click.option("--op", required=True, type=click.Choice(["add", "sub", "mul", "div", "squared", "root"]))
@click.option("--input-size", type=int, default=2, show_default=True)
@click.option("--interp", required=True, help="Interpolation range LO,HI (union: LO,HI:LO,HI).")
@click.option("--extrap", required=True, help="Extrapolation range LO,HI (union: LO,HI:LO,HI).")
@click.option("--seeds", type=int, default=10, show_default=True, help="Number of seeds (0..N-1).")
@click.option("--iterations", type=int, default=50_000, show_default=True)
@click.option("--hidden", type=int, default=2, show_default=True, help="Hidden size (two-layer).")
@click.option("--lr", type=float, default=None, help="Override the recipe's learning rate.")
@click.option("--subset-ratio", type=float, default=None)
@click.option("--overlap-ratio", type=float, default=None)
@click.option("--threshold-policy", default=None, help="Success threshold policy.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option(
    "--compile", "compile_step", is_flag=True,
    help="Compile the training step with torch.compile: less per-step overhead after a one-off "
    "compile of seconds to a minute; pays for long runs. Results agree with eager mode to rounding.",
)
@click.option(
    "--cuda-graph", "cuda_graph", is_flag=True,
    help="CUDA only: capture the whole update as one CUDA graph and replay it; same results bit "
    "for bit, several times faster where kernel launches dominate (hundreds of runs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def train(
    unit: str,
    unit2: str | None,
    op: str,
    input_size: int,
    interp: str,
    extrap: str,
    seeds: int,
    iterations: int,
    hidden: int,
    lr: float | None,
    subset_ratio: float | None,
    overlap_ratio: float | None,
    threshold_policy: str | None,
    device: str,
    dtype: str,
    compile_step: bool,
    cuda_graph: bool,
    as_json: bool,
) -> None:
    """Train SEEDS runs of one cell at once and report its success rate.

    Without --unit2 the model is one module on the single-module task (Mistry et al. 2022); with
    it, the two-layer network of the static task (Madsen & Johansen 2020). Each unit's reference
    recipe is used, its schedules scaled to --iterations.
    """
    from nalm.units import available_units

    for name, value in (("--unit", unit), ("--unit2", unit2)):
        if value is not None and value not in available_units():
            raise ConfigError(f"{name}: unknown unit {value!r}; available: {', '.join(available_units())}")
    if seeds < 1:
        raise ConfigError(f"--seeds: must be at least 1, got {seeds}")
    if iterations < 1:
        raise ConfigError(f"--iterations: must be at least 1, got {iterations}")
    if hidden < 1:
        raise ConfigError(f"--hidden: must be at least 1, got {hidden}")
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"--lr: must be positive and finite, got {lr}")
    if cuda_graph and not device.startswith("cuda"):
        raise ConfigError("--cuda-graph: needs a CUDA --device")
    if cuda_graph and compile_step:
        raise ConfigError("--cuda-graph: cannot be combined with --compile; choose one")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"--device: {device} requested but CUDA is not available")
    from tqdm import tqdm

    with tqdm(total=iterations, desc="train", unit="it", leave=False, disable=None) as bar:
        summary = run_cell(
            unit=unit,
            unit2=unit2,
            op=op,
            input_size=input_size,
            interp=parse_range(interp, "--interp"),
            extrap=parse_range(extrap, "--extrap"),
            seeds=list(range(seeds)),
            iterations=iterations,
            hidden=hidden,
            lr=lr,
            subset_ratio=subset_ratio,
            overlap_ratio=overlap_ratio,
            threshold_policy=threshold_policy,
            device=device,
            dtype=dtype,
            progress=bar.update,
            compile=compile_step,
            cuda_graph=cuda_graph,
        )
    click.echo(json.dumps(summary, indent=2) if as_json else _format(summary))
