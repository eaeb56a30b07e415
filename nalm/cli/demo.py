"""``nalm demo [add|mul]`` — the article's two experiments."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from nalm.errors import ConfigError


def _check_writable(out: Path) -> None:
    """Fail before training if results could not be saved; create nothing on failure."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out: {out} is not writable")
    if out.exists():
        try:
            with tempfile.TemporaryFile(dir=out):
                pass
        except OSError as exc:
            raise ConfigError(f"--out: {out} is not writable ({exc.strerror})") from None


def _format(result) -> str:  # noqa: ANN001 - DemoResult, imported lazily
    from nalm.demo import ARTICLE_PREDICTED, EXTRAPOLATION_TOLERANCE

    symbol = "+" if result.op == "add" else "·"
    lines = [
        f"== {result.unit.upper()} learns x1 {symbol} x2  (seed {result.seed}, {result.epochs} "
        f"epochs, Adam lr {result.lr}, {result.wall_time_s:.1f} s)",
        f"pre-training test MSE:  {result.pre_test_mse:.6g}",
        f"post-training test MSE: {result.post_test_mse:.6g}",
        f"learned W: {[[round(w, 6) for w in row] for row in result.weights]}",
        f"learned formula: {result.formula_line}",
        "",
        f"{'actual':>14} {'predicted':>16} {'article predicted':>18}",
    ]
    for actual, predicted, article in zip(
        result.actual, result.predicted, ARTICLE_PREDICTED[result.op]
    ):
        article_text = "…" if article is None else f"{article:.6f}"
        lines.append(f"{actual:>14.2f} {predicted:>16.6f} {article_text:>18}")
    lines += [
        "",
        f"test rows (inside the training range): max |error| {result.test_max_abs_error:.4g}, "
        f"max relative error {result.test_max_rel_error:.3g}",
    ]
    for name, values in result.extrapolation.items():
        lines.append(
            f"held-out x1, x2 ~ {name}: max relative error {values['max_rel_error']:.3g}"
        )
    verdict = (
        "extrapolated: yes — it learned the operation, not just the training range"
        if result.extrapolated
        else f"extrapolated: NO — relative error above {EXTRAPOLATION_TOLERANCE:g} outside the "
        "training range"
    )
    lines += [verdict, f"plot of log(MSE) over epochs: {result.plot}", ""]
    return "\n".join(lines)


@click.command()
@click.argument("op", required=False, type=click.Choice(["add", "mul"]))
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--epochs", type=int, default=22_000, show_default=True, help="Full-batch epochs.")
@click.option("--lr", type=float, default=0.05, show_default=True, help="Adam learning rate.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("nalm-out"),
    show_default=True,
    help="Directory for the loss plots.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def demo(op: str | None, seed: int, epochs: int, lr: float, out: Path, as_json: bool) -> None:
    """Reproduce the article's experiments: a NAC learns x1 + x2 (add), a NALU x1 · x2 (mul).

    Without OP both run. Prints pre/post-training test MSE, the learned weights, actual vs
    predicted values, the error far outside the training range, and saves log(MSE) plots.
    """
    from nalm.demo import run_demo, save_loss_plot, validate

    validate(epochs, lr, seed)
    _check_writable(out)
    from tqdm import tqdm

    results = {}
    for name in [op] if op else ["add", "mul"]:
        with tqdm(total=epochs, desc=f"demo {name}", unit="epoch", leave=False, disable=None) as bar:
            result = run_demo(name, seed=seed, epochs=epochs, lr=lr, progress=bar.update)
        out.mkdir(parents=True, exist_ok=True)
        result.plot = str(save_loss_plot(result, out / f"demo_{name}_loss.png"))
        results[name] = result
        if not as_json:
            click.echo(_format(result))
    if as_json:
        payload = (
            results[op].to_json() if op else {name: r.to_json() for name, r in results.items()}
        )
        click.echo(json.dumps(payload, indent=2))
