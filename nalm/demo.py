"""The TensorFlow article's two experiments, reproduced on nalm's task and trainer.

A NAC learns x1 + x2 and a NALU learns x1 · x2 on the article's fixed data: full-batch Adam,
lr 0.05, 22,000 epochs, MSE, the article's initialisations. Beyond the article, the trained unit is
also scored on two held-out ranges far outside the training data, which is what "learning
arithmetic" has to mean, and its weights are read out as a formula (:func:`nalm.explain`): where the
article printed the weight matrix for the reader to judge, the demo says which formula it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch

from nalm.errors import ConfigError
from nalm.formula.api import describe, explain_runs
from nalm.tasks.article import ArticleTask
from nalm.training import ModelSpec, OptimizerSpec, TrainRecipe, train, unstack_module

DemoOp = Literal["add", "mul"]
DEMO_UNITS: dict[str, str] = {"add": "nac", "mul": "nalu"}
DEFAULT_SEED = 0
DEFAULT_EPOCHS = 22_000
DEFAULT_LR = 0.05
# A unit "extrapolated" when its worst relative error on every held-out range is below this.
EXTRAPOLATION_TOLERANCE = 1e-3

# What the article printed after training (first 10 test rows; "…" values were lost in its
# formatting and are None here). Used for the side-by-side table in the README and `nalm demo`.
ARTICLE_PREDICTED: dict[str, list[float | None]] = {
    "add": [1999.9021, 2011.9015, 2023.9009, 2035.9004, 2047.8997, 2059.8992, 2071.8984, None,
            2095.8975, 2107.8967],
    "mul": [1000000.2, 1012032, 1024127.56, 1036288.6, 1048512.06, 1060800.8, None, 1085567.6,
            1098047.6, 1110592.8],
}


@dataclass
class DemoResult:
    op: str
    unit: str
    seed: int
    epochs: int
    lr: float
    pre_test_mse: float
    post_test_mse: float
    test_max_abs_error: float
    test_max_rel_error: float
    extrapolation: dict[str, dict[str, float]]
    extrapolated: bool
    weights: list[list[float]]
    actual: list[float]
    predicted: list[float]
    train_mse: list[float] = field(repr=False)
    wall_time_s: float
    plot: str | None = None
    # The trained unit's formula over the article's inputs x1, x2 (nalm.explain of the final weights)
    formula: str | None = None
    formula_outcome: str | None = None
    formula_line: str | None = None  # one line: formula, whether it is the target, snap distance

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "train_mse"}
        return data


def validate(epochs: int, lr: float, seed: int) -> None:
    if epochs < 1:
        raise ConfigError(f"--epochs: must be a positive number of epochs, got {epochs}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"--lr: must be a positive finite learning rate, got {lr}")
    if seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {seed}")


def run_demo(
    op: DemoOp,
    *,
    seed: int = DEFAULT_SEED,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Train the article's unit for ``op`` and score it in and far outside the training range."""
    validate(epochs, lr, seed)
    task = ArticleTask(op)
    unit = DEMO_UNITS[op]
    spec = ModelSpec((unit,), task.in_features, task.out_features, options=({"init": "article"},))
    recipe = TrainRecipe(
        iterations=epochs,
        optimizer=OptimizerSpec("adam", lr),
        eval_every=max(1, epochs // 100),
        record_train_loss=True,
    )
    # The success threshold is unused here: the demo reports errors, not a success rate.
    out = train(spec, task, [seed], recipe, threshold=0.0, progress=progress)
    run = out.runs[0]
    model = unstack_module(out.model, 0, spec.build(seed)).eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()

    sets = task.named_sets()
    test_x = sets.pop("test")
    test_y, test_pred = task.target(test_x), predict(test_x)
    extrapolation = {}
    for name, x in sets.items():
        y, pred = task.target(x), predict(x)
        extrapolation[name] = {
            "max_rel_error": float(np.max(np.abs(pred - y) / np.abs(y))),
            "mse": float(np.mean((pred - y) ** 2)),
        }
    weights = model[0].effective_weights()["W"].detach().double().tolist()
    # The weights the demo reports are the final ones (the article printed those), so is the formula.
    (formula,) = explain_runs(model, task, names=("x1", "x2"))
    assert out.train_loss is not None
    return DemoResult(
        op=op,
        unit=unit,
        seed=seed,
        epochs=epochs,
        lr=lr,
        pre_test_mse=run.curve.interpolation_mse[0],
        post_test_mse=float(np.mean((test_pred - test_y) ** 2)),
        test_max_abs_error=float(np.max(np.abs(test_pred - test_y))),
        test_max_rel_error=float(np.max(np.abs(test_pred - test_y) / np.abs(test_y))),
        extrapolation=extrapolation,
        extrapolated=all(v["max_rel_error"] < EXTRAPOLATION_TOLERANCE for v in extrapolation.values()),
        weights=weights,
        actual=test_y[:10, 0].tolist(),
        predicted=test_pred[:10, 0].tolist(),
        train_mse=out.train_loss[:, 0].double().tolist(),
        wall_time_s=out.wall_time_s,
        formula=formula.formula,
        formula_outcome=formula.outcome,
        formula_line=describe(formula),
    )


def save_loss_plot(result: DemoResult, path: Path) -> Path:
    """log(MSE) over epochs, as the article plots it; written atomically (temp file + rename)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mse = np.asarray(result.train_mse)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(np.arange(len(mse)), np.log(np.maximum(mse, np.finfo(float).tiny)), lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("log(training MSE)")
    ax.set_title(f"{result.unit.upper()} learning x1 {'+' if result.op == 'add' else '·'} x2 "
                 f"(seed {result.seed})")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path
