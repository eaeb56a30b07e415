"""A cell's identity as plain JSON: the pieces of the config the results store hashes.

Any change here changes every stored cell's hash (a rerun would retrain everything): keep the keys,
their order and their values as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from nalm.metrics import SELECTION_WINDOW
from nalm.tasks import Task
from nalm.training import TrainRecipe

from .schema import Suite

__all__ = ["OP_LABELS", "plain", "recipe_json", "store_suite_name", "task_json"]

OP_LABELS = {"all": "x+y, x·y, x/y, √x"}


def store_suite_name(suite: Suite, policy: str, primary: str) -> str:
    """The store's suite name of a cell scored under ``policy``: ``<suite>@<policy>`` unless primary."""
    return suite.name if policy == primary else f"{suite.name}@{policy}"


def task_json(kind: str, task: Task) -> dict[str, Any]:
    if hasattr(task, "to_dict"):
        data = dict(task.to_dict())
    else:
        data = dataclasses.asdict(task)  # type: ignore[call-overload]
    return {"kind": kind, **data}


def plain(value: Any) -> Any:
    """JSON-able copy of recipe pieces (tuples → lists)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _object_json(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # A field marked omit_default (added after configs were stored) counts only when set.
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)
                  if not (f.metadata.get("omit_default") and getattr(obj, f.name) == f.default)}
    else:
        fields = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    return {"type": type(obj).__name__, **plain(fields)}


def recipe_json(recipe: TrainRecipe) -> dict[str, Any]:
    """Everything in a TrainRecipe that changes a result, as plain JSON."""
    opt = recipe.optimizer
    return {
        "optimizer": {"name": opt.name, "lr": plain(opt.lr), "options": plain(dict(opt.options))},
        "batch_size": recipe.batch_size,
        "eval_every": recipe.eval_every,
        "regularizers": {k: _object_json(v) for k, v in sorted(recipe.regularizers.items())},
        "clip_grad_value": recipe.clip_grad_value,
        "clip_grad_norm": recipe.clip_grad_norm,
        "hooks": [_object_json(h) for h in recipe.hooks],
        "early_stop_after": recipe.early_stop_after,
        # Later fields enter only when set, so every config written before them keeps its hash.
        **({"update_cycle": list(recipe.update_cycle)} if recipe.update_cycle else {}),
        **({"penalty_steps": _object_json(recipe.penalty_steps)} if recipe.penalty_steps is not None else {}),
        **({"selection": recipe.selection} if recipe.selection != "best" else {}),
        **({"selection_window": recipe.selection_window}
           if recipe.selection_window != SELECTION_WINDOW else {}),
    }
