"""``nalm explain`` — the formula each stored run learned, read from its stored parameters.

Each selected run's model and task are rebuilt from the config the store keeps with it
(:func:`nalm.bench.build.task_from_config`, :func:`~nalm.bench.build.spec_from_config`), its parameters
loaded (at the selected step, or ``--at final``), and :func:`nalm.formula.explain_runs` reads the
formula and compares it with the task's target. The database is opened read-only: nothing is written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from nalm.errors import ConfigError


@dataclass(frozen=True)
class StoredExplanation:
    """One stored run and what the read-out says of it (``explanation`` None: no stored parameters)."""

    suite: str
    cell: str
    seed: int
    solved: bool
    explanation: Any  # nalm.formula.Explanation | None

    def to_json(self) -> dict[str, Any]:
        data = {"suite": self.suite, "cell": self.cell, "seed": self.seed, "solved": self.solved}
        if self.explanation is None:
            return {**data, "outcome": None, "formula": None, "max_snap_distance": None,
                    "reason": "no stored parameters"}
        return {**data, **{k: v for k, v in self.explanation.to_json().items() if k not in ("seed", "run")}}


def _select(store: Any, suite: str | None, cell: str | None, seed: int | None) -> list[Any]:
    """The stored runs to explain, checking every filter names something the database holds."""
    suites = store.suites()
    if not suites:
        raise ConfigError(f"{store.path} holds no runs")
    if suite is not None and suite not in suites:
        raise ConfigError(f"suite {suite!r} is not in {store.path} (suites there: {', '.join(suites)})")
    # Runs re-scored under another threshold policy ("<suite>@<policy>") are the same trainings:
    # left out unless asked for by name.
    chosen = [suite] if suite is not None else [s for s in suites if "@" not in s] or suites
    runs = [r for s in chosen for r in store.runs(s)]
    if cell is not None:
        cells = list(dict.fromkeys(r.cell for r in runs))
        runs = [r for r in runs if r.cell == cell]
        if not runs:
            shown = ", ".join(cells[:8]) + (", …" if len(cells) > 8 else "")
            raise ConfigError(f"cell {cell!r} is not in {'suite ' + repr(suite) if suite else store.path} "
                              f"(cells: {shown})")
    if seed is not None:
        seeds = sorted({r.result.seed for r in runs})
        runs = [r for r in runs if r.result.seed == seed]
        if not runs:
            raise ConfigError(f"seed {seed} is not stored for the selected runs (seeds: {_ranges(seeds)})")
    return runs


def _ranges(values: list[int]) -> str:
    parts, start = [], None
    for i, v in enumerate(values):
        start = v if start is None else start
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(v) if start == v else f"{start}–{v}")
            start = None
    return ", ".join(parts)


def explain_db(db: Path, *, suite: str | None = None, cell: str | None = None, seed: int | None = None,
               at: str = "selected", tolerance: float | None = None) -> list[StoredExplanation]:
    """What the read-out says of each selected stored run (see the module docstring)."""
    from nalm.store import ResultsStore

    if tolerance is not None and not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ConfigError(f"--tolerance: must be a finite number >= 0, got {tolerance}")
    with ResultsStore(db, readonly=True) as store:
        runs = _select(store, suite, cell, seed)
        stored = store.runs_with_parameters()
        if not any(r.id in stored for r in runs):
            why = ("it was written before nalm stored parameters (schema 1)" if store.schema_version < 2
                   else "none of them has any (failed runs)")
            raise ConfigError(f"{db}: no stored parameters for the selected runs: {why}; rerun them with "
                              "`nalm bench` into a new database")
        parameters = {r.id: store.parameters(r.id) for r in runs if r.id in stored}
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for r in runs:
        groups.setdefault((r.suite, r.cell, r.config_hash), []).append(r)
    out = []
    for group in groups.values():
        read = _explain_group(group, parameters, at, tolerance)
        out += [StoredExplanation(r.suite, r.cell, r.result.seed, r.result.solved, read.get(r.id))
                for r in group]
    return out


def _explain_group(runs: list[Any], parameters: dict[int, Any], at: str, tolerance: float | None
                   ) -> dict[int, Any]:
    """One cell's runs with parameters, explained as one stacked model (the probe rows are shared)."""
    import numpy as np
    import torch

    from nalm.bench.build import spec_from_config, task_from_config
    from nalm.formula import DEFAULT_TOLERANCE, explain_runs
    from nalm.training import stack_modules

    have = [r for r in runs if r.id in parameters]
    if not have:
        return {}
    config = have[0].config
    task = task_from_config(config)
    spec = spec_from_config(config, task)
    dtype = getattr(torch, str(config.get("dtype", "float32")))
    models = []
    for r in have:
        stored = parameters[r.id]
        values = stored.selected if at == "selected" else stored.final
        model = spec.build(r.result.seed, dtype=dtype)
        names = {name for name, _ in model.named_parameters()}
        if names != set(values):
            raise ConfigError(f"cell {r.cell!r} seed {r.result.seed}: stored parameters "
                              f"{sorted(values)} do not fit the model ({sorted(names)})")
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.from_numpy(np.asarray(values[name])))
        models.append(model)
    steps = [parameters[r.id].selected_step if at == "selected" else r.result.iterations for r in have]
    results = explain_runs(
        stack_modules(models), task, seeds=[r.result.seed for r in have], steps=steps,
        tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
    )
    return {r.id: e for r, e in zip(have, results)}


def _num(v: float | None) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.2g}"


def format_text(items: list[StoredExplanation]) -> str:
    lines: list[str] = []
    current = None
    for item in items:
        if (item.suite, item.cell) != current:
            current = (item.suite, item.cell)
            e = next((i.explanation for i in items if (i.suite, i.cell) == current and i.explanation), None)
            target = f"  target: {e.target}" if e is not None and e.target else ""
            if lines:
                lines.append("")
            lines += [f"{item.suite} / {item.cell}{target}",
                      f"{'seed':>6}  {'solved':>6}  {'outcome':<13}  {'max snap':>8}  formula"]
        e = item.explanation
        solved = "yes" if item.solved else "no"
        if e is None:
            lines.append(f"{item.seed:>6}  {solved:>6}  {'—':<13}  {'—':>8}  (no stored parameters)")
            continue
        text = e.formula if e.formula is not None else f"— {e.reason}"
        if e.outcome == "exact_other" and e.reason:
            text += f"   [{e.reason}]"
        if e.note:
            text += f"   (note: {e.note})"
        lines.append(f"{item.seed:>6}  {solved:>6}  {e.outcome:<13}  {_num(e.max_snap_distance):>8}  {text}")
    read = [i for i in items if i.explanation is not None]
    solved = [i for i in read if i.solved]
    recovered = sum(1 for i in read if i.explanation.recovered)
    solved_recovered = sum(1 for i in solved if i.explanation.recovered)
    lines += ["", (f"{len(items)} runs: {recovered} recovered the target formula; of the "
                   f"{len(solved)} solved, {solved_recovered} did")]
    return "\n".join(lines)


@click.command("explain")
@click.option("--db", "db", type=click.Path(path_type=Path, dir_okay=False), default=Path("nalm-results.db"),
              show_default=True, help="Results database written by `nalm bench`.")
@click.option("--suite", default=None, help="Only this suite (default: every suite, without the "
              "re-scored '<suite>@<policy>' copies of the same runs).")
@click.option("--cell", default=None, help="Only this cell (e.g. intro/NMU/mul).")
@click.option("--seed", type=int, default=None, help="Only this seed.")
@click.option("--at", type=click.Choice(["selected", "final"]), default="selected", show_default=True,
              help="The parameters at the selected step (the step the run is scored at) or at the end.")
@click.option("--tolerance", type=float, default=None,
              help="Largest distance of a weight or gate from its exact value [default: 0.05].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list, one object per run.")
def explain(db: Path, suite: str | None, cell: str | None, seed: int | None, at: str,
            tolerance: float | None, as_json: bool) -> None:
    """The formula each stored run learned: its weights snapped to their units' exact values, and
    whether the formula is the task's target (symbolically, and on the extrapolation set).

    \b
    Outcomes: exact_target (the task's formula), exact_other (another exact formula),
    not_snappable (a weight or gate it uses is not near an exact value; the reason says which).
    """
    items = explain_db(db, suite=suite, cell=cell, seed=seed, at=at, tolerance=tolerance)
    if as_json:
        click.echo(json.dumps([i.to_json() for i in items], indent=2))
    else:
        click.echo(format_text(items))
