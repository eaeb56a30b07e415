"""``nalm task``: show one arithmetic task as a person wants to see it.

Which inputs form ``a`` and ``b`` for a seed, a few rows of the fixed validation (interpolation) and
test (extrapolation) sets with their targets, and the success threshold with its policy.

Range syntax: ``LO,HI`` (e.g. ``1,2`` or ``-2,-1``); a union of two equal-width ranges joins them with
``:`` (e.g. ``-6,-2:2,6`` is U[−6,−2] ∪ U[2,6]). Brackets are optional (``[1,2]``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

from nalm.errors import ConfigError
from nalm.policies import THRESHOLD_POLICIES

from nalm.tasks.ops import UNARY_OPS

from .options import LONG_HELP, OP, RANGE, errors_in_option_terms, in_option_terms


def _fmt(v: float) -> str:
    return f"{v:.6g}" if math.isfinite(v) else str(v)


def _indices_text(start: int, end: int) -> str:
    return f"x[{start}..{end - 1}]" if end - start > 1 else f"x[{start}]"


def _row_record(x_row: Any, subsets: Any, target: float) -> dict[str, Any]:
    sums = [float(x_row[s:e].sum()) for s, e in subsets]
    rec: dict[str, Any] = {"x": [float(v) for v in x_row]}
    rec["a"] = sums[0]
    if len(sums) > 1:
        rec["b"] = sums[1]
    rec["target"] = float(target)
    return rec


def _row_text(rec: dict[str, Any], uses_b: bool) -> str:
    xs = rec["x"]
    if len(xs) <= 10:
        xtxt = "[" + ", ".join(f"{v:.4f}" for v in xs) + "]"
    else:
        xtxt = "[" + ", ".join(f"{v:.4f}" for v in xs[:4]) + f", ... ({len(xs)} values)]"
    parts = [f"x = {xtxt}", f"a = {_fmt(rec['a'])}"]
    if uses_b and "b" in rec:
        parts.append(f"b = {_fmt(rec['b'])}")
    parts.append(f"target = {_fmt(rec['target'])}")
    return "  ".join(parts)


@click.command("task")
@click.option("--op", type=OP, required=True, help="Arithmetic operation.")
@click.option(
    "--kind",
    type=click.Choice(["static", "single-module"]),
    default="static",
    show_default=True,
    help="Madsen & Johansen's static task, or the Primer's single-module task.",
)
@click.option("--input-size", type=int, default=None, help="Inputs (static: 100; single-module: 2).")
@click.option("--subset-ratio", type=float, default=None, help="Subset size / input size.")
@click.option("--overlap-ratio", type=float, default=None, help="Overlap / subset size.")
@click.option("--num-subsets", type=int, default=2, show_default=True)
@click.option("--interp", "interp", type=RANGE, default=None, help="Training/validation range LO,HI [default 1,2].")
@click.option("--extrap", "extrap", type=RANGE, default=None, help="Test range LO,HI or LO,HI:LO,HI [default 2,6].")
@click.option("--preset", default=None, help="A Primer range pair by name (instead of --interp/--extrap).")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed (subset placement).")
@click.option(
    "--threshold-policy",
    type=click.Choice(THRESHOLD_POLICIES),
    default=None,
    help="Success threshold policy [default: madsen_r for static tasks (generator where R's geometry "
    "does not fit the input), fixed_1e-5 for single-module].",
)
@click.option("--eps", type=float, default=None, help="ε of the perturbed solution (default 1e-5).")
@click.option(
    "--mc-samples", type=click.IntRange(2), default=1_000_000, show_default=True,
    help="Monte Carlo samples of the threshold.",
)
@click.option("--rows", type=click.IntRange(0, 50), default=2, show_default=True, help="Rows per set.")
@click.option("--long", "long", is_flag=True, help=LONG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@errors_in_option_terms
def task(
    op: str,
    kind: str,
    input_size: int | None,
    subset_ratio: float | None,
    overlap_ratio: float | None,
    num_subsets: int,
    interp: tuple[tuple[float, float], ...] | None,
    extrap: tuple[tuple[float, float], ...] | None,
    preset: str | None,
    seed: int,
    threshold_policy: str | None,
    eps: float | None,
    mc_samples: int,
    rows: int,
    long: bool,
    as_json: bool,
) -> None:
    """Show a task: the inputs forming a and b for a seed, sample rows, and the success threshold.

    \b
    Ranges: LO,HI (e.g. 1,2 or -2,-1); a union of two equal-width ranges
    joins them with ':' (e.g. --extrap -6,-2:2,6 is U[-6,-2] ∪ U[2,6]).
    Rows shown are the fixed validation and test sets, identical to the
    reference implementation's; the threshold is Monte Carlo unless the
    policy is fixed_1e-5 or published.
    """
    from nalm.metrics import threshold_estimate
    from nalm.resources import DEFAULT_TIME_LIMIT_S, TooLongError
    from nalm.tasks.presets import PRIMER_SUBSET_RATIOS, primer_range
    from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask, format_range

    if preset is not None and (interp is not None or extrap is not None):
        raise click.UsageError("--preset sets both ranges; do not combine it with --interp/--extrap")
    kwargs: dict[str, Any] = {"num_subsets": num_subsets}
    if preset is not None:
        pair = primer_range(preset)
        kwargs["interpolation_range"] = pair.interpolation
        kwargs["extrapolation_range"] = pair.extrapolation
        if op == "div" and preset == "neg2_2":
            kwargs["allow_zero_denominator"] = True
    if interp is not None:
        kwargs["interpolation_range"] = interp
    if extrap is not None:
        kwargs["extrapolation_range"] = extrap
    if input_size is not None:
        kwargs["input_size"] = input_size
    if overlap_ratio is not None:
        kwargs["overlap_ratio"] = overlap_ratio
    if subset_ratio is not None:
        kwargs["subset_ratio"] = subset_ratio
    if kind == "single-module":
        n = input_size if input_size is not None else 2
        if subset_ratio is None:
            if n not in PRIMER_SUBSET_RATIOS:
                raise ConfigError(
                    f"subset_ratio: give --subset-ratio for a {n}-input single-module task "
                    "(the Primer defines 2, 10 and 100 inputs)"
                )
            kwargs["subset_ratio"] = PRIMER_SUBSET_RATIOS[n]
        the_task: StaticArithmeticTask = SingleModuleTask(op, **kwargs)
    else:
        the_task = StaticArithmeticTask(op, **kwargs)

    if seed < 0 or seed >= 2**32:
        raise click.BadParameter(f"must be in [0, 2**32), got {seed}", param_hint="'--seed'")
    subsets = the_task.subsets(seed)
    samples: dict[str, list[dict[str, Any]]] = {}
    for split in ("interpolation", "extrapolation"):  # before the threshold: they may not fit
        x = the_task.evaluation_inputs(split)
        y = the_task.evaluation_targets(split, seed)
        samples[split] = [_row_record(x[i], subsets, y[i]) for i in range(min(rows, len(y)))]
    try:
        est = threshold_estimate(
            the_task, threshold_policy, eps=eps, samples=mc_samples,
            max_seconds=None if long else DEFAULT_TIME_LIMIT_S,
        )
    except TooLongError as exc:
        raise ConfigError(f"{in_option_terms(exc)}, or pass --long to run it anyway") from None

    uses_b = the_task.op not in UNARY_OPS
    out: dict[str, Any] = {
        "task": the_task.name,
        "op": the_task.op,
        "input_size": the_task.input_size,
        "subset_ratio": the_task.subset_ratio,
        "overlap_ratio": the_task.overlap_ratio,
        "num_subsets": the_task.num_subsets,
        "simple": the_task.simple,
        "interpolation_range": [list(r) for r in the_task.interpolation_range],
        "extrapolation_range": [list(r) for r in the_task.extrapolation_range],
        "seed": seed,
        "offset": the_task.offset(seed),
        "formula": the_task.formula(seed),
        "subsets": [list(r) for r in subsets],
        "a_indices": list(range(*subsets[0])),
        "b_indices": list(range(*subsets[1])) if len(subsets) > 1 else [],
        "uses_b": uses_b,
        "threshold": est.value,
        "threshold_policy": est.policy,
        "threshold_eps": est.eps,
        "threshold_samples": est.samples,
        "threshold_stderr": est.stderr,
        "samples": samples,
    }
    if as_json:
        click.echo(json.dumps(out))
        return

    n = the_task.input_size
    title = "single-module task (Mistry et al. 2022)" if the_task.name == "single_module" else (
        "static arithmetic task (Madsen & Johansen 2020)"
    )
    click.echo(f"{title}: op={op}, {n} inputs, seed {seed}")
    if the_task.simple:
        click.echo("  simple variant: fixed subsets, no offset")
    else:
        click.echo(
            f"  subset ratio {the_task.subset_ratio:g} -> {the_task.subset_size} inputs per subset; "
            f"overlap ratio {the_task.overlap_ratio:g} -> {the_task.overlap_size} shared; "
            f"offset {out['offset']} (of 0..{n - the_task.used_size})"
        )
    labels = ["a", "b"] + [f"s{k}" for k in range(2, len(subsets))]
    for label, (s, e) in zip(labels, subsets):
        note = "" if (label != "b" or uses_b) else "   (not used by this op)"
        click.echo(f"  {label} = sum {_indices_text(s, e)}  ({e - s} inputs){note}")
    if len(subsets) > 1:
        shared = sorted(set(range(*subsets[0])) & set(range(*subsets[1])))
        shared_txt = f"{shared[0]}..{shared[-1]}" if shared else "none"
        click.echo(f"  shared by a and b: {len(shared)} ({shared_txt})")
    used = set().union(*(range(s, e) for s, e in subsets))
    click.echo(f"  unused inputs: {n - len(used)}")
    click.echo(f"  target = {the_task.formula(seed)}")
    click.echo(f"  interpolation range (train, validation): {format_range(the_task.interpolation_range)}")
    click.echo(f"  extrapolation range (test): {format_range(the_task.extrapolation_range)}")
    for split, label in (("interpolation", "validation"), ("extrapolation", "test")):
        if samples[split]:
            click.echo(f"{label} rows ({split}, fixed set, first {len(samples[split])}):")
            for rec in samples[split]:
                click.echo("  " + _row_text(rec, uses_b))
    detail = f"policy {est.policy}"
    if est.samples:
        detail += f", eps {est.eps:g}, {est.samples:,} Monte Carlo samples, stderr {est.stderr:.2g}"
    click.echo(f"success threshold (test MSE must be strictly below): {est.value:.6g}  ({detail})")
