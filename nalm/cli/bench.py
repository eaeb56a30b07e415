"""``nalm bench`` — run a benchmark suite (or part of it) into a results database."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from nalm.resources import format_duration

from .options import BACKEND, check_device, chosen_backend


#: Runs per batch when --group-runs is not given on a GPU: there a step costs about the same for
#: 100 and 1,000 runs (kernel launches, not arithmetic), so fewer, larger batches finish a suite
#: sooner (measured on an H100: 5.1x on madsen2020's NMU/NAU cells, 12.5x on primer2022's NAU/NAC+).
CUDA_GROUP_RUNS = 1000

#: The same on the CPU, where a step's cost grows with the runs in it and the seed-iterations per
#: second peak near 100 runs (docs/performance.md): cells of a few seeds share a batch (madsen2020
#: quick 1.3x, primer2022 quick 3.2x faster than cell by cell, idle 2-core VM), a cell of 100 seeds
#: trains alone.
CPU_GROUP_RUNS = 100


def resolve_group_runs(group_runs: int | None, device: str) -> int | None:
    """``--group-runs`` as given, else :data:`CUDA_GROUP_RUNS` on CUDA and :data:`CPU_GROUP_RUNS` on
    the CPU; 1 (every cell on its own) is None."""
    if group_runs is None:
        group_runs = CUDA_GROUP_RUNS if device == "cuda" else CPU_GROUP_RUNS
    return None if group_runs <= 1 else group_runs


@click.command("bench")
@click.argument("suite")
@click.option("--profile", default="quick", show_default=True,
              help="Profile of the suite: 'full' (the papers' protocol) or 'quick' (minutes on a CPU).")
@click.option("--only", "only", default=None, metavar="FILTER",
              help="Run only matching cells (see FILTER above).")
@click.option("--seeds", type=int, default=None,
              help="Seeds 0..N-1 in every cell instead of the profile's.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--db", type=click.Path(path_type=Path), default=Path("nalm-results.db"),
              show_default=True, help="SQLite results database (created if missing).")
@click.option("--threshold-policy", default=None,
              help="Score runs under this policy instead of the suite's (e.g. simulated_eps_1e-4).")
@click.option("--list", "list_only", is_flag=True,
              help="Print the cells and the work they need; train and write nothing.")
@click.option("--backend", type=BACKEND, default=None,
              help="How each update runs: eager (default); compile (torch.compile, a one-off compile "
              "per cell; pays for long cells, e.g. full profiles on a GPU; not part of a run's "
              "identity); cuda_graph (with --device cuda: each batch's whole update captured once "
              "and replayed, same results bit for bit; batches it cannot capture — other "
              "optimisers, per-run learning rates, tasks without device steps — train without it; "
              "models whose backward reads back to the host, NMU over > 2 inputs and iNALU, fail "
              "with an error: rerun those cells without it).")
@click.option("--compile", "compile_step", is_flag=True, help="Alias of --backend compile.")
@click.option("--cuda-graph", "cuda_graph", is_flag=True, help="Alias of --backend cuda_graph.")
@click.option("--group-runs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Train cells of one shape (same network, recipe, dtype, iterations; e.g. one "
              "model on several ops or ranges) together, up to N runs per batch. Default: 100 on "
              "the CPU, 1000 with --device cuda. A run's last bits depend on its batch, so batches "
              "are formed over the whole profile: with --only (or a resume) a needed batch trains "
              "whole, its other cells unwritten, and every command stores the same bits for a cell. "
              "--group-runs 1: every cell on its own (its missing seeds only).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where units (cells, or grouped batches) train: this process, or a Ray cluster "
              "(pip install 'nalm[ray]'); either way this process alone writes the database.")
@click.option("--address", default=None, metavar="auto|HOST:PORT",
              help="With --executor ray: the cluster to join ('auto': the one `ray start` runs "
              "here). Default: a Ray instance started for this command.")
@click.option("--cpus-per-task", type=float, default=1.0, show_default=True,
              help="With --executor ray: CPUs per unit (also its torch threads).")
@click.option("--gpus-per-task", type=float, default=0.0, show_default=True,
              help="With --executor ray: GPUs per unit (fractions share a GPU).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress on stderr: a bar with ETA on a terminal; otherwise (CI logs, "
              "2> file) one plain line per finished cell.")
def bench(
    suite: str,
    profile: str,
    only: str | None,
    seeds: int | None,
    device: str,
    db: Path,
    threshold_policy: str | None,
    list_only: bool,
    backend: str | None,
    compile_step: bool,
    cuda_graph: bool,
    group_runs: int | None,
    executor: str,
    address: str | None,
    cpus_per_task: float,
    gpus_per_task: float,
    progress: bool,
) -> None:
    """Run SUITE — a packaged suite (article, madsen2020, madsen2020_recurrent,
    madsen2020_sequential_mnist, primer2022, npu2020, heim2020, schlor2020, mistry2021) or a suite TOML file — into the results database, skipping runs already stored there. Make the tables
    afterwards with `nalm report`.

    \b
    FILTER: comma-separated terms, all of which must match a cell.
      KEY=PATTERN   KEY is block, model, op, range or cell; PATTERN a shell glob
                    (* ? [..]), alternatives separated by |; model matches the
                    model's key or its label.
      PATTERN       (no '=') a glob over cell ids block/model/op[/range].
    Examples: --only 'model=NMU|NAU,op=mul'   --only 'main/NAU/*'   --only range=neg2_2

    \b
    Every cell's seeds train as one batched program, with those of other cells of its shape
    (--group-runs); each finished batch is written in one transaction, so a killed run loses at most
    the batch in flight and a rerun resumes.
    """
    from nalm.bench.plan import plan_cells, total_work
    from nalm.bench.runner import canonical_batches, check_db_path, run_cells
    from nalm.bench.schema import load_suite

    backend = chosen_backend(backend, compile_step, cuda_graph, device)
    check_device(device)
    loaded = load_suite(suite)
    cells = plan_cells(
        loaded, profile, only=only, seeds=seeds, threshold_policy=threshold_policy, device=device
    )

    grouped = resolve_group_runs(group_runs, device)
    # Batches are formed over the profile's whole plan, so a selection trains what the suite does.
    plan = cells if grouped is None or only is None else plan_cells(
        loaded, profile, seeds=seeds, threshold_policy=threshold_policy, device=device
    )

    if list_only:
        for c in cells:
            click.echo(f"{c.id}  seeds={len(c.seeds)}  iterations={c.iterations}  "
                       f"model={c.spec.describe()}  policies={','.join(c.policies)}")
        batches = canonical_batches([(c, c.seeds) for c in cells], grouped, plan)
        beside = sum(1 for batch in batches for _, _, write in batch if not write)
        click.echo(f"{len(cells)} cells, {total_work(cells):,} seed-iterations, in {len(batches)} "
                   f"batch{'es' if len(batches) != 1 else ''}"
                   + (f" (with {beside} more cells trained beside them)" if beside else "")
                   + f" (suite {loaded.name}, profile {profile})")
        return

    if executor == "local" and (address is not None or cpus_per_task != 1.0 or gpus_per_task):
        raise click.UsageError("--address, --cpus-per-task and --gpus-per-task need --executor ray")
    db = check_db_path(db)
    runner_executor = None
    if executor == "ray":
        from nalm.bench.ray_executor import RayExecutor

        runner_executor = RayExecutor(
            address=address, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task
        )
    result = run_cells(
        cells, db, device=device, progress=progress, compile=backend == "compile", group_runs=grouped,
        cuda_graph=backend == "cuda_graph", executor=runner_executor, plan=plan,
    )

    rate = result.seed_iterations_per_second
    click.echo("")
    click.echo(
        f"suite {loaded.name}, profile {profile}: {result.count('run')} cells run, "
        f"{result.count('skipped')} skipped (already stored), {result.count('failed')} failed"
    )
    click.echo(
        f"wall time {format_duration(result.wall_time_s)}; trained {result.seed_iterations:,} "
        f"seed-iterations" + (f" at {rate:,.0f} seed-iterations/s" if rate else "")
    )
    for name in result.store_suites:
        click.echo(f"report: nalm report --db {shlex.quote(str(db))} --suite {shlex.quote(name)}")
