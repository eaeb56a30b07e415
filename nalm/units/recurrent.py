"""Arithmetic units as recurrent cells: :class:`RecurrentCell` and the recurrent task's network.

Trask et al. (NeurIPS 2018, "Neural Arithmetic Logic Units", §4.1, the recurrent version of the
arithmetic task) and Madsen & Johansen (ICLR 2020, "Neural Arithmetic Units", the sequential tasks)
run a unit over a sequence by feeding it its own previous output beside the new input. The wiring
here is the reference code's (stable-nalu ``layer/_abstract_recurrent_cell.py`` and
``network/simple_function_recurrent.py``, in its runnable form at hoedt/stable-nalu 64b3d24):

* the cell's unit maps ``input_size + state`` features to ``state`` features and is applied to
  ``cat(x_t, h_{t−1})`` — **the input first, the state last** (``torch.cat((x_t, h_tm1), dim=1)``);
  ``[h_{t−1}, x_t]``, as nalm's issue 20 wrote it, is the same model with the weight columns
  permuted, so nalm keeps the code's order, which a weight read-out or a hand-set cell must follow;
* the initial state ``h_0`` is a *trainable* parameter initialised to zeros (the network's
  ``zero_state``) — also for multiplication, where the reference's comment notes that 1 would be
  the right start ("the zero_states are allowed to be optimized");
* the network's output is a second unit applied to the *last* state: ``y = head(h_T)``.

Everything is shape-generic over leading run axes, as every nalm unit is (``nalm.units._base``): a
stacked network has parameters ``[S, ...]`` and maps inputs ``[S or 1, B, T, I]`` to ``[S, B, O]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit

__all__ = ["RecurrentCell", "RecurrentNetwork"]


def _features(module: nn.Module, which: str) -> int:
    """``in_features`` / ``out_features`` of a unit, or of the first / last unit of a stack."""
    if hasattr(module, which):
        return int(getattr(module, which))
    units = [m for m in module.modules() if hasattr(m, which) and m is not module]
    if not units:
        raise TypeError(f"RecurrentCell: cannot tell the {which} of {type(module).__name__}")
    return int(getattr(units[0] if which == "in_features" else units[-1], which))


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes (``torch.broadcast_shapes`` costs ~0.2 ms a call, per step)."""
    a, b = (1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)
    out = []
    for m, n in zip(a, b):
        if m != n and 1 not in (m, n):
            raise ValueError(f"RecurrentCell: input {a} and state {b} do not broadcast")
        out.append(n if m == 1 else m)
    return tuple(out)


class RecurrentCell(nn.Module):
    """Any registered unit (or a stack of units) as a recurrent cell: ``h_t = unit(cat(x_t, h_{t−1}))``.

    Madsen & Johansen (ICLR 2020) and Trask et al. (NeurIPS 2018) wire a unit into a recurrent network
    this way; the order of the concatenation (input first, state last) is their code's
    (stable-nalu ``AbstractRecurrentCell.forward``).

    ``unit`` maps ``input_features + state_features`` to ``state_features``: e.g.
    ``RecurrentCell(nalm.create("nau", 10 + 2, 2))`` accumulates two sums of a 10-input sequence.
    ``state_features`` defaults to the unit's ``out_features``. The cell follows the unit training
    contract by delegation (:meth:`regularizers`, :meth:`project_`, :meth:`effective_weights`), so it
    can stand wherever a unit does in your own loop; nalm's trainer finds the units inside it.

    :meth:`forward` takes a sequence ``x [..., B, T, I]`` and an initial state ``h0 [..., B, H]``
    (zeros when None; leading run axes broadcast) and returns the last state ``[..., B, H]``, or every
    state ``[..., B, T, H]`` with ``return_sequence=True``.
    """

    def __init__(self, unit: nn.Module, *, state_features: int | None = None) -> None:
        super().__init__()
        if not isinstance(unit, nn.Module):
            raise TypeError(f"RecurrentCell: unit must be a torch module, got {type(unit).__name__}")
        out = _features(unit, "out_features")
        state = out if state_features is None else int(state_features)
        if state != out:
            raise ValueError(
                f"RecurrentCell: the unit's output is the next state, so state_features must equal its "
                f"out_features ({out}), got {state}"
            )
        total = _features(unit, "in_features")
        if total <= state:
            raise ValueError(
                f"RecurrentCell: the unit maps {total} features, not more than the state's {state}: it "
                f"must take input_features + state_features (e.g. create(name, inputs + {state}, {state}))"
            )
        self.unit = unit
        self.state_features = state
        self.input_features = total - state

    def step(self, x_t: Tensor, h: Tensor) -> Tensor:
        """One step: ``unit(cat(x_t, h))`` for ``x_t [..., B, I]`` and ``h [..., B, H]``."""
        if x_t.shape[:-1] != h.shape[:-1]:  # e.g. a shared evaluation set [1, B, I], or h0 [S, 1, H]
            lead = _broadcast(x_t.shape[:-1], h.shape[:-1])
            x_t, h = x_t.expand(*lead, x_t.shape[-1]), h.expand(*lead, h.shape[-1])
        return self.unit(torch.cat((x_t, h), -1))

    def forward(self, x: Tensor, h0: Tensor | None = None, *, return_sequence: bool = False) -> Tensor:
        if x.dim() < 2 or x.shape[-1] != self.input_features:
            raise ValueError(
                f"RecurrentCell: expected inputs [..., T, {self.input_features}], got {tuple(x.shape)}"
            )
        h = x.new_zeros(*x.shape[:-2], self.state_features) if h0 is None else h0
        states = []
        for t in range(x.shape[-2]):
            h = self.step(x[..., t, :], h)
            if return_sequence:
                states.append(h)
        if return_sequence:
            return torch.stack(states, dim=-2)
        return h

    # -- the unit contract, by delegation ---------------------------------------------------------
    def _units(self) -> list[ArithmeticUnit]:
        return [m for m in self.unit.modules() if isinstance(m, ArithmeticUnit)]

    def regularizers(self) -> dict[str, Tensor]:
        """The units' penalties, same-named terms summed (as the trainer sums them over layers)."""
        out: dict[str, Tensor] = {}
        for unit in self._units():
            for name, value in unit.regularizers().items():
                out[name] = out[name] + value if name in out else value
        return out

    @torch.no_grad()
    def project_(self) -> None:
        for unit in self._units():
            unit.project_()

    def effective_weights(self) -> dict[str, Tensor]:
        return {
            f"{i}.{name}": w for i, unit in enumerate(self._units()) for name, w in unit.effective_weights().items()
        }

    def extra_repr(self) -> str:
        return f"input_features={self.input_features}, state_features={self.state_features}"


class RecurrentNetwork(nn.Module):
    """The recurrent arithmetic task's network (stable-nalu ``SimpleFunctionRecurrentNetwork``).

    ``y = head(h_T)`` where ``h_t = cell(x_t, h_{t−1})`` and ``h_0`` is the trainable
    ``zero_state`` ``[H]`` (zeros at initialisation). ``head`` is a sequence of units mapping the state
    to the output (the reference's ``output_layer``: the cell's unit kind, or an NMU for ×); empty, the
    last state is the output. Parameters: ``zero_state``, ``cell.unit.*``, ``head.<i>.*``.

    ``learn_initial_state=False`` with ``initial_state=1.0`` is the sequential MNIST network's state
    (stable-nalu ``SequentialMnistNetwork``: a fixed buffer at 0 for sums, 1 for products).

    ``forward(x)``: ``x [..., B, T, I]`` → ``[..., B, O]``; ``return_sequence=True`` applies the head
    to every state: ``[..., B, T, O]``.
    """

    def __init__(
        self,
        cell: RecurrentCell,
        head: Sequence[nn.Module] = (),
        *,
        learn_initial_state: bool = True,
        initial_state: float = 0.0,
    ) -> None:
        super().__init__()
        self.cell = cell
        self.head = nn.Sequential(*head)
        ref = next(iter(cell.parameters()), None)
        kwargs = {} if ref is None else {"device": ref.device, "dtype": ref.dtype}
        self.zero_state = nn.Parameter(
            torch.full((cell.state_features,), float(initial_state), **kwargs),
            requires_grad=learn_initial_state,
        )

    @property
    def in_features(self) -> int:
        return self.cell.input_features

    @property
    def out_features(self) -> int:
        return _features(self.head, "out_features") if len(self.head) else self.cell.state_features

    def forward(self, x: Tensor, *, return_sequence: bool = False) -> Tensor:
        # zero_state [..., H] (stacked: [S, H]) -> [..., 1, H], broadcast over the batch by the cell
        h0 = self.zero_state.unsqueeze(-2)
        h = self.cell(x, h0, return_sequence=return_sequence)
        if not len(self.head):
            return h
        if return_sequence:  # [..., B, T, H]: the head sees rows [..., B·T, H], as units expect
            rows = h.reshape(*h.shape[:-3], -1, h.shape[-1])
            return self.head(rows).reshape(*h.shape[:-1], -1)
        return self.head(h)

    def regularizers(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for unit in (m for m in self.modules() if isinstance(m, ArithmeticUnit)):
            for name, value in unit.regularizers().items():
                out[name] = out[name] + value if name in out else value
        return out

    @torch.no_grad()
    def project_(self) -> None:
        for unit in (m for m in self.modules() if isinstance(m, ArithmeticUnit)):
            unit.project_()
