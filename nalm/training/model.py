"""Model recipes: a chain of registered units, built per seed exactly as a single run would be."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, Sequence

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


@dataclass(frozen=True)
class SequentialMnistSpec(ModelSpec):
    """The sequential MNIST network (:class:`nalm.units.sequential_mnist.SequentialMnistNetwork`):
    ``units = (cell,)``, ``in_features = 784`` (an image per step), ``out_features = 1``;
    ``options = ({...},)`` are the cell's own keyword options.

    The network's settings (:data:`NETWORK_FIELDS`; a suite's ``network = { ... }`` table):
    ``accumulator`` ``"trained"`` (default) or ``"solved"`` (the reference model: an exact NAU/NMU
    cell, frozen; the cell must be ``"nau"`` or ``"nmu"``); ``initial_state`` ``h_0`` (None: 1 for
    multiplicative cells, else 0, as the reference — resolved when the spec is made, so equal
    networks are equal specs); ``z_regularizer`` (default False): measure R_z for the recipe's
    ``"z"`` regularizer.

    Each run is seeded as stable-nalu's script seeds it: ``manual_seed(seed)``, the CNN's layers are
    drawn when made, then the network's ``reset_parameters`` (CNN, cell) runs twice (the constructor's
    and the script's); nalm units draw once more when made, which the reference's layers do not, so
    that draw is made on a side generator.
    """

    recurrent: bool = True
    accumulator: Literal["trained", "solved"] = "trained"
    initial_state: float | None = None
    z_regularizer: bool = False

    #: The network's settings, beside the cell's ``options``.
    NETWORK_FIELDS: ClassVar[tuple[str, ...]] = ("accumulator", "initial_state", "z_regularizer")

    def __post_init__(self) -> None:
        super().__post_init__()
        from nalm.units.sequential_mnist import MULTIPLICATIVE_CELLS, Z_FORMS

        if self.options and not any(self.options):  # [{}] as a stored config writes it: no options
            object.__setattr__(self, "options", ())

        if len(self.units) != 1:
            raise ConfigError(f"units: the sequential MNIST network has one cell, got {list(self.units)}")
        if (self.in_features, self.out_features) != (784, 1):
            raise ConfigError(f"in_features/out_features: an image (784) to one value per step, got "
                              f"{self.in_features} -> {self.out_features}")
        cell = self.units[0]
        misplaced = [k for k in self.NETWORK_FIELDS if self.options and k in self.options[0]]
        if misplaced:
            raise ConfigError(f"options: {misplaced[0]!r} is a setting of the network, not an option of the cell "
                              f"{cell!r}: network = {{ {misplaced[0]} = ... }} beside units")
        if self.accumulator not in ("trained", "solved"):
            raise ConfigError(f"accumulator: expected 'trained' or 'solved', got {self.accumulator!r}")
        if self.solved and cell not in ("nau", "nmu"):
            raise ConfigError(f"accumulator: 'solved' is an exact NAU (sum) or NMU (product) cell, not {cell!r}")
        if not isinstance(self.z_regularizer, bool):
            raise ConfigError(f"z_regularizer: expected true or false, got {self.z_regularizer!r}")
        if self.z_regularizer and cell not in Z_FORMS:
            raise ConfigError(f"z_regularizer: the reference defines R_z for {', '.join(sorted(Z_FORMS))}, "
                              f"not for {cell!r}")
        state = self.initial_state
        if state is None:
            state = 1.0 if cell in MULTIPLICATIVE_CELLS else 0.0
        elif isinstance(state, bool) or not isinstance(state, (int, float)) or not math.isfinite(state):
            raise ConfigError(f"initial_state: expected a finite number, got {state!r}")
        object.__setattr__(self, "initial_state", float(state))

    @property
    def solved(self) -> bool:
        return self.accumulator == "solved"

    def network(self) -> dict[str, Any]:
        """The network's settings, resolved (``initial_state`` a number): what a stored config keeps
        under ``"network"``, and what ``SequentialMnistSpec(..., **network)`` takes back."""
        return {k: getattr(self, k) for k in self.NETWORK_FIELDS}

    @property
    def _cell_options(self) -> dict[str, Any]:
        return dict(self.options[0]) if self.options else {}

    @property
    def _h0(self) -> float:
        assert self.initial_state is not None  # resolved in __post_init__
        return self.initial_state

    @property
    def sizes(self) -> list[int]:
        return [2, 1]  # the cell: [l_t, h_{t-1}] -> h_t

    @property
    def state_features(self) -> int:
        return 1

    def build(self, seed: int, *, device: Any = None, dtype: torch.dtype = torch.float32) -> nn.Module:
        from nalm.units.mnist_cnn import MnistCNN
        from nalm.units.sequential_mnist import (
            SequentialMnistNetwork,
            solved_accumulator_,
        )

        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            cnn = MnistCNN(784, 1, dtype=dtype)  # RegressionMnistNetwork's layers draw when made
            with torch.random.fork_rng(devices=[]):
                unit = create(self.units[0], 2, 1, dtype=dtype, **self._cell_options)
            if self.solved:
                solved_accumulator_(unit)  # the reference makes no cell: nothing drawn for it
                cnn.reset_parameters()
                cnn.reset_parameters()
            else:
                for _ in range(2):  # SequentialMnistNetwork.__init__'s reset, then the script's
                    cnn.reset_parameters()
                    unit.reset_parameters()  # type: ignore[operator]
        network = SequentialMnistNetwork(
            cnn, RecurrentCell(unit), unit_name=self.units[0], initial_state=self._h0,
            z_regularizer=self.z_regularizer,
        )
        return network.to(device)

    def parameter_values(self) -> int:
        from nalm.units.mnist_cnn import MnistCNN

        with torch.device("meta"):
            cnn = MnistCNN(784, 1)
            unit = create(self.units[0], 2, 1, **self._cell_options)
        return 1 + sum(t.numel() for m in (cnn, unit) for t in (*m.parameters(), *m.buffers()))

    def describe(self) -> str:
        cell = "solved (exact) " + self.units[0] if self.solved else self.units[0]
        extra = ", R_z" if self.z_regularizer else ""
        return f"MNIST CNN(784→1) per image → recurrent {cell}(1+1→1) over time, h0 = {self._h0:g}{extra}"
