"""``nalm train`` — one ad-hoc benchmark cell: S seeds of one model on one task, trained at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from nalm.errors import ConfigError
from nalm.policies import THRESHOLD_POLICIES

from .options import (
    BACKEND,
    DEVICE,
    LONG_HELP,
    OP,
    RANGE,
    UNITS,
    check_device,
    check_units,
    chosen_backend,
    errors_in_option_terms,
)


@dataclass(frozen=True)
class CellSetup:
    """What one ad-hoc cell trains: its task, network and recipe (the last unit's reference recipe),
    and the protocol's own number of iterations for that recipe."""

    task: Any
    spec: Any
    recipe: Any
    protocol_iterations: int


def build_cell(
    *,
    units: tuple[str, ...],
    op: str,
    input_size: int,
    interp: Any,
    extrap: Any,
    iterations: int,
    hidden: int,
    lr: float | None,
    subset_ratio: float | None,
    overlap_ratio: float | None,
) -> CellSetup:
    """One unit: one module on the single-module task (Mistry et al. 2022). Several: a network
    ``units[0] → hidden → … → units[-1]`` on the static task (Madsen & Johansen 2020)."""
    from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask
    from nalm.training import ModelSpec
    from nalm.training.recipes import default_recipe

    last = units[-1]
    if len(units) > 1:
        task = StaticArithmeticTask(
            op,
            input_size=input_size,
            subset_ratio=0.25 if subset_ratio is None else subset_ratio,
            overlap_ratio=0.5 if overlap_ratio is None else overlap_ratio,
            interpolation_range=interp,
            extrapolation_range=extrap,
        )
        spec = ModelSpec(units, input_size, 1, hidden=hidden)
        setting: dict[str, Any] = {"setting": "madsen2020"}
    else:
        task = SingleModuleTask(
            op,
            input_size=input_size,
            subset_ratio=(1 / input_size) if subset_ratio is None else subset_ratio,
            overlap_ratio=0.0 if overlap_ratio is None else overlap_ratio,
            interpolation_range=interp,
            extrapolation_range=extrap,
        )
        spec = ModelSpec(units, input_size, 1)
        setting = {"setting": "primer2022", "input_size": input_size}
    recipe = default_recipe(last, op, iterations=iterations, lr=lr, **setting)
    protocol = default_recipe(last, op, **setting).iterations
    return CellSetup(task, spec, recipe, protocol)


def run_cell(
    cell: CellSetup,
    seeds: list[int],
    *,
    threshold_policy: str | None,
    device: str,
    dtype: str,
    progress: Any = None,
    compile: bool = False,
    cuda_graph: bool = False,
) -> dict[str, Any]:
    """Train one cell and summarise it as a dict. Training, thresholds and the per-run summary are
    :mod:`nalm.bench.runner`'s, shared with ``nalm bench``."""
    from nalm.bench.runner import run_json, summarize_runs, train_and_score
    from nalm.formula.api import describe
    from nalm.tasks.ranges import format_range

    out, estimate = train_and_score(
        cell.spec, cell.task, seeds, cell.recipe, threshold_policy=threshold_policy, device=device,
        dtype=dtype, progress=progress, compile=compile, cuda_graph=cuda_graph,
    )
    task = cell.task
    formulas = _read_formulas(out, task)
    return {
        "model": cell.spec.describe(),
        "task": {"op": task.op, "input_size": task.input_size,
                 "interp": format_range(task.interpolation_range),
                 "extrap": format_range(task.extrapolation_range)},
        "iterations": cell.recipe.iterations,
        **summarize_runs(out.runs),
        "threshold": estimate.value,
        "threshold_policy": estimate.policy,
        "seed_iterations_per_second": out.seed_iterations_per_second,
        "wall_time_s": out.wall_time_s,
        "runs": [
            {**run_json(r), "formula": None if formulas is None else formulas[i].to_json()}
            for i, r in enumerate(out.runs)
        ],
        "formulas": [] if formulas is None else [
            describe(formulas[i]) for i, r in enumerate(out.runs) if r.solved
        ],
    }


def _read_formulas(out: Any, task: Any) -> list[Any] | None:
    """What each run learned, as a formula (:mod:`nalm.formula`); None, with a warning, if the
    read-out fails — it must never cost the command its training result."""
    from nalm.formula.api import explain_output

    try:
        return explain_output(out, task)
    except Exception as exc:  # noqa: BLE001
        click.echo(f"nalm: warning: formula read-out failed ({type(exc).__name__}: {exc})", err=True)
        return None


def check_long_work(
    cell: CellSetup, seeds: list[int], *, iterations: int, device: str, dtype: str, long: bool
) -> None:
    """Iterations beyond the protocol's own are allowed only with ``--long``: refused with the
    estimated time without it, and announced with it (the estimate: two short probes of the cell)."""
    if iterations <= cell.protocol_iterations:
        return
    import torch

    from nalm.resources import format_duration
    from nalm.training.estimate import estimate_train_seconds

    seconds = estimate_train_seconds(
        cell.spec, cell.task, seeds, cell.recipe, device=device, dtype=getattr(torch, dtype)
    )
    beyond = (
        f"{iterations:,} iterations are beyond the protocol's {cell.protocol_iterations:,}; "
        f"estimated time here: {format_duration(seconds)}"
    )
    if not long:
        raise ConfigError(f"--iterations: {beyond}; pass --long to run them")
    click.echo(f"nalm: {beyond}", err=True)


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
    if summary["formulas"]:
        lines += ["", "learned formulas (solved seeds):", *(f"  {line}" for line in summary["formulas"])]
    return "\n".join(lines)


@click.command()
@click.option(
    "--units", "units", type=UNITS, default=None,
    help="Units, one per layer: 'nmu' (one module on the single-module task) or 'nau,nmu' "
    "(a network on the static task). Names: `nalm.available_units()`.",
)
@click.option("--unit", type=UNITS, default=None, hidden=True, help="Alias: first unit.")
@click.option("--unit2", type=UNITS, default=None, hidden=True, help="Alias: second unit.")
@click.option("--op", required=True, type=OP, help="Arithmetic operation.")
@click.option("--input-size", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--interp", required=True, type=RANGE,
              help="Interpolation (training) range LO,HI; a union: LO,HI:LO,HI.")
@click.option("--extrap", required=True, type=RANGE,
              help="Extrapolation (test) range LO,HI; a union: LO,HI:LO,HI.")
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of seeds (0..N-1), trained at once.")
@click.option("--iterations", type=click.IntRange(min=1), default=50_000, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=2, show_default=True,
              help="Hidden size (networks of several units).")
@click.option("--lr", type=float, default=None, help="Override the recipe's learning rate.")
@click.option("--subset-ratio", type=float, default=None)
@click.option("--overlap-ratio", type=float, default=None)
@click.option("--threshold-policy", type=click.Choice(THRESHOLD_POLICIES), default=None,
              help="Success threshold policy [default: the task's].")
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option(
    "--backend", type=BACKEND, default=None,
    help="How each update runs: eager (default); compile (torch.compile: less per-step overhead "
    "after a one-off compile, pays for long runs; results agree to rounding); cuda_graph (CUDA "
    "only: the whole update captured once and replayed; same results bit for bit, faster where "
    "kernel launches dominate).",
)
@click.option("--compile", "compile_step", is_flag=True, help="Alias of --backend compile.")
@click.option("--cuda-graph", "cuda_graph", is_flag=True, help="Alias of --backend cuda_graph.")
@click.option("--long", "long", is_flag=True, help=LONG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@errors_in_option_terms
def train(
    units: tuple[str, ...] | None,
    unit: tuple[str, ...] | None,
    unit2: tuple[str, ...] | None,
    op: str,
    input_size: int,
    interp: tuple[tuple[float, float], ...],
    extrap: tuple[tuple[float, float], ...],
    seeds: int,
    iterations: int,
    hidden: int,
    lr: float | None,
    subset_ratio: float | None,
    overlap_ratio: float | None,
    threshold_policy: str | None,
    device: str,
    dtype: str,
    backend: str | None,
    compile_step: bool,
    cuda_graph: bool,
    long: bool,
    as_json: bool,
) -> None:
    """Train SEEDS runs of one cell at once and report its success rate.

    \b
    nalm train --units nmu --op mul --interp 1,2 --extrap 2,6 --seeds 25 --iterations 5000
    nalm train --units nau,nmu --op mul --input-size 100 --interp 1,2 --extrap 2,6

    One unit is one module on the single-module task (Mistry et al. 2022); several units form the
    network of the static task (Madsen & Johansen 2020). The last unit's reference recipe is used,
    its schedules scaled to --iterations. --unit/--unit2 are accepted as aliases of --units.
    """
    given = (("--units", units), ("--unit", unit), ("--unit2", unit2))
    if units is not None and (unit is not None or unit2 is not None):
        raise click.UsageError("give --units, or the older --unit/--unit2, not both")
    if units is None:
        if unit is None:
            raise click.UsageError("Missing option '--units'")
        units = unit + (unit2 or ())
    elif unit2 is not None:
        units = units + unit2
    backend = chosen_backend(backend, compile_step, cuda_graph, device)
    check_device(device)
    if device == "cpu":
        from nalm.tasks.rng.backend import prepare_kernel  # (torch-free)

        # First run after an install: the data kernel compiles in the background from here on,
        # overlapping the start-up below, torch's import included (docs/performance.md, "First call
        # after an install").
        prepare_kernel(dtype, union=len(interp) > 1)
    for option, names in given:
        check_units(names, option)
    import torch

    from nalm.training.runs import check_batch_fits

    cell = build_cell(
        units=units, op=op, input_size=input_size, interp=interp, extrap=extrap,
        iterations=iterations, hidden=hidden, lr=lr, subset_ratio=subset_ratio,
        overlap_ratio=overlap_ratio,
    )
    # before the seeds' list or any model is built (the trainer checks it again)
    check_batch_fits(
        seeds, input_size, cell.recipe.batch_size, getattr(torch, dtype), device, spec=cell.spec
    )
    from tqdm import tqdm

    seed_list = list(range(seeds))
    check_long_work(cell, seed_list, iterations=iterations, device=device, dtype=dtype, long=long)
    with tqdm(total=iterations, desc="train", unit="it", leave=False, disable=None) as bar:
        summary = run_cell(
            cell, seed_list, threshold_policy=threshold_policy, device=device, dtype=dtype,
            progress=bar.update, compile=backend == "compile", cuda_graph=backend == "cuda_graph",
        )
    click.echo(json.dumps(summary, indent=2) if as_json else _format(summary))
