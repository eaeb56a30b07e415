"""Training: model recipes, schedules, and the batched trainer (S independent runs at once)."""

from .model import ModelSpec, slice_stacked, stack_modules, unstack_module
from .recipe import OptimizerSpec, TrainRecipe
from .schedules import Constant, GatedConstant, LinearRamp, StepExponential
from .trainer import RunGroup, TrainOutput, train, train_groups
from .update import BACKENDS, Backend

__all__ = [
    "BACKENDS",
    "Backend",
    "Constant",
    "GatedConstant",
    "LinearRamp",
    "ModelSpec",
    "OptimizerSpec",
    "RunGroup",
    "StepExponential",
    "TrainOutput",
    "TrainRecipe",
    "slice_stacked",
    "stack_modules",
    "train",
    "train_groups",
    "unstack_module",
]
