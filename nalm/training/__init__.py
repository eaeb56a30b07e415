"""Training: model recipes, schedules, and the batched trainer (S independent runs at once)."""

from .model import ModelSpec, stack_modules, unstack_module
from .recipe import OptimizerSpec, TrainRecipe
from .schedules import Constant, GatedConstant, LinearRamp, StepExponential
from .trainer import TrainOutput, train

__all__ = [
    "Constant",
    "GatedConstant",
    "LinearRamp",
    "ModelSpec",
    "OptimizerSpec",
    "StepExponential",
    "TrainOutput",
    "TrainRecipe",
    "stack_modules",
    "train",
    "unstack_module",
]
