"""Model recipes: a chain of registered units, built per seed exactly as a single run would be."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from nalm.errors import ConfigError
from nalm.units import ArithmeticUnit, available_units, create
from nalm.units.recurrent import RecurrentCell, RecurrentNetwork


@dataclass(frozen=True)
class ModelSpec:
    """``units[0]: in → hidden``, …, ``units[-1]: hidden → out``; one unit maps ``in → out``.

    ``options[i]`` are keyword options of layer i's unit (e.g. ``{"init": "article"}``).

    ``recurrent=True``: a network over sequences ``[.., B, T, in]``
    (:class:`nalm.units.recurrent.RecurrentNetwork`, the wiring of stable-nalu's recurrent task):
    ``units[0]`` is the recurrent cell, ``in + hidden → hidden`` applied to ``cat(x_t, h_{t−1})``
    from a trainable zero initial state, and ``units[1:]`` map the last state ``hidden → … → out``.
    With one unit the cell's state is the output (``in + out → out``).
    """

    units: tuple[str, ...]
    in_features: int
    out_features: int = 1
    hidden: int = 2
    options: tuple[Mapping[str, Any], ...] = field(default=())
    recurrent: bool = False

    def __post_init__(self) -> None:
        if not self.units:
            raise ConfigError("units: a model needs at least one unit")
        known = available_units()
        for name in self.units:
            if name not in known:
                raise ConfigError(f"units: unknown unit {name!r}; available: {', '.join(known)}")
        if self.in_features < 1 or self.out_features < 1 or self.hidden < 1:
            raise ConfigError("in_features/out_features/hidden: must be positive")
        if self.options and len(self.options) != len(self.units):
            raise ConfigError(
                f"options: need one mapping per unit ({len(self.units)}), got {len(self.options)}"
            )

    @property
    def sizes(self) -> list[int]:
        """Each layer's input and output sizes in turn (recurrent: the cell's input counts its state)."""
        if self.recurrent:
            state = self.state_features
            return [self.in_features + state] + [state] + [self.hidden] * (len(self.units) - 2) + (
                [self.out_features] if len(self.units) > 1 else []
            )
        return [self.in_features] + [self.hidden] * (len(self.units) - 1) + [self.out_features]

    @property
    def state_features(self) -> int:
        """The recurrent cell's state size: ``hidden``, or ``out_features`` for a cell alone."""
        return self.hidden if len(self.units) > 1 else self.out_features

    def _layers(self, options: Sequence[Mapping[str, Any]], **kwargs: Any) -> list[nn.Module]:
        sizes = self.sizes
        return [
            create(name, sizes[i], sizes[i + 1], **kwargs, **dict(opts))
            for i, (name, opts) in enumerate(zip(self.units, options))
        ]

    def _assemble(self, layers: list[nn.Module]) -> nn.Module:
        if self.recurrent:
            return RecurrentNetwork(RecurrentCell(layers[0]), layers[1:])
        return nn.Sequential(*layers)

    def build(
        self, seed: int, *, device: Any = None, dtype: torch.dtype = torch.float32
    ) -> nn.Module:
        """The network of one run. Seeding matches stable-nalu: ``manual_seed(seed)``, build, then
        ``reset_parameters()`` once more (its stored parameters come from the second draw). A
        recurrent network draws the cell, then the output units, as stable-nalu's
        ``SimpleFunctionRecurrentNetwork`` does (its zero state is set, not drawn).

        Parameters are always drawn by the CPU generator and then moved, so a seed gives the same
        initial network on every device.
        """
        options = self.options or tuple({} for _ in self.units)
        with torch.random.fork_rng(devices=[]):
            # The CPU generator only: torch.manual_seed would also (lazily) seed every
            # accelerator, capturing a stack trace each time — a tenth of a second per 100 builds.
            torch.default_generator.manual_seed(seed)
            layers = self._layers(options, dtype=dtype)
            for layer in layers:
                layer.reset_parameters()  # type: ignore[operator]
        return self._assemble(layers).to(device)

    def parameter_values(self) -> int:
        """Parameter and buffer values of one network, counted without allocating them (the
        layers are built on torch's ``meta`` device, which holds shapes only)."""
        options = self.options or tuple({} for _ in self.units)
        with torch.device("meta"):
            layers = self._layers(options)
        state = self.state_features if self.recurrent else 0  # the trainable initial state
        return state + sum(t.numel() for layer in layers for t in (*layer.parameters(), *layer.buffers()))

    def describe(self) -> str:
        sizes = self.sizes
        parts = [f"{name}({a}→{b})" for name, a, b in zip(self.units, sizes, sizes[1:])]
        if self.recurrent:
            state = self.state_features
            parts[0] = f"recurrent {self.units[0]}({self.in_features}+{state}→{state}) over time"
        return " → ".join(parts)


def stack_modules(modules: Sequence[nn.Module]) -> nn.Module:
    """One module whose parameters and buffers carry a leading run axis ``[S, ...]``.

    Works because nalm units are shape-generic (see ``nalm.units._base``): the stacked module runs
    all S networks in one forward pass, and every op stays independent per run.
    """
    if not modules:
        raise ValueError("stack_modules needs at least one module")
    stacked = copy.deepcopy(modules[0])
    for name, first in modules[0].named_parameters():
        owner, attr = _owner(stacked, name)
        value = torch.stack([m.get_parameter(name).detach() for m in modules])
        setattr(owner, attr, nn.Parameter(value, requires_grad=first.requires_grad))
    for name, _ in modules[0].named_buffers():
        owner, attr = _owner(stacked, name)
        owner.register_buffer(attr, torch.stack([m.get_buffer(name) for m in modules]))
    return stacked


def slice_stacked(stacked: nn.Module, runs: slice) -> nn.Module:
    """A stacked module holding only the runs in ``runs`` (a copy; the original is unchanged)."""
    part = copy.deepcopy(stacked)
    for name, p in stacked.named_parameters():
        owner, attr = _owner(part, name)
        setattr(owner, attr, nn.Parameter(p.detach()[runs].clone(), requires_grad=p.requires_grad))
    for name, b in stacked.named_buffers():
        owner, attr = _owner(part, name)
        owner.register_buffer(attr, b[runs].clone())
    return part


def unstack_module(stacked: nn.Module, index: int, template: nn.Module) -> nn.Module:
    """Run ``index`` of a stacked module as an ordinary module (a copy of ``template``)."""
    single = copy.deepcopy(template)
    with torch.no_grad():
        for name, p in single.named_parameters():
            p.copy_(stacked.get_parameter(name)[index])
        for name, b in single.named_buffers():
            b.copy_(stacked.get_buffer(name)[index])
    return single


def _owner(root: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    path, _, attr = dotted.rpartition(".")
    return (root.get_submodule(path) if path else root), attr


def arithmetic_layers(model: nn.Module) -> list[ArithmeticUnit]:
    return [m for m in model.modules() if isinstance(m, ArithmeticUnit)]
