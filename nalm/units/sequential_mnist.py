"""The sequential MNIST network of Madsen & Johansen 2020: a CNN reads each image's digit, a unit as a
recurrent cell accumulates them, and the state — the running sum or product — is the output at every
step.

The wiring is the reference code's (stable-nalu ``network/sequential_mnist.py``,
``SequentialMnistNetwork``), batched over runs like every nalm model (parameters ``[S, ...]``):

* ``l_t = cnn(image_t)`` (:class:`~nalm.units.mnist_cnn.MnistCNN`, one output), computed for all
  images of a batch at once (the CNN is per image, so this is the reference's per-step call);
* ``h_t = unit(cat(l_t, h_{t−1}))``, the cell's input first and its state last
  (:class:`~nalm.units.recurrent.RecurrentCell`), state size 1, and every ``h_t`` is an output;
* ``h_0`` is a fixed buffer, not a trained parameter: 1 for the multiplicative cells (the reference's
  ``nac_mul`` ``normal`` or ``mnac``), else 0 — so the NALU starts at 0 also on products, as there;
* NAC• is the reference's ``exp(NAC(log|l_t| + ε, log|h_{t−1}| + ε))`` around an additive NAC cell,
  which is, parameter for parameter, nalm's ``nac_mul`` unit as the cell (``exp(log(|x| + ε) Wᵀ)``
  with the same ``W = tanh(Ŵ)·σ(M̂)``, ε = 1e-7); likewise NAC•,σ (``PosNAC``) is ``nac_mul_sigma``
  and NAC•,NMU (``ReRegualizedLinearPosNAC``) ``nac_mul_nmu``;
* ``accumulator="solved"`` is the reference model (``--model-simplification solved-accumulator``):
  the cell is an exact NAU (sums) or NMU (products) with ``W = [1, 1]`` frozen, so ``h_t = h_{t−1} +
  l_t`` or ``h_{t−1} · l_t`` exactly, and only the CNN learns;
* ``R_z`` (``--regualizer-z``; the paper's appendix, "Sequential MNIST"): during training the
  network measures the mean ``z̄`` of the cell's inputs ``[l_t, h_{t−1}]`` over the batch and every
  step — as the unit sees them, so after the log for the log-space cells — and offers
  ``mean((1 − |W|)·z̄²)`` (NAU, NAC₊, NAC•) or ``mean((1 − W)·(1 − z̄)²)`` (NMU, NAC•,NMU) under the
  regularizer name ``"z"``; a recipe weights it like any regularizer (the reference: 1, constant).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit
from .mnist_cnn import IMAGE_SHAPE, MnistCNN
from .recurrent import RecurrentCell

__all__ = [
    "MULTIPLICATIVE_CELLS",
    "Z_FORMS",
    "SequentialMnistNetwork",
    "solved_accumulator_",
]

#: Cells whose identity is 1: the state starts at 1 (the reference's ``_best_init_state``).
MULTIPLICATIVE_CELLS = frozenset({"nmu", "nac_mul", "nac_mul_sigma", "nac_mul_nmu"})
#: The R_z form of each cell that has one: "nau" ``(1 − |W|)·z̄²``, "nmu" ``(1 − W)·(1 − z̄)²``.
Z_FORMS = {"nau": "nau", "nac": "nau", "nac_mul": "nau", "nmu": "nmu", "nac_mul_nmu": "nmu"}
#: Cells that take the log of their input (so R_z measures ``log(|x| + ε)``).
_LOG_SPACE_CELLS = frozenset({"nac_mul", "nac_mul_sigma", "nac_mul_nmu"})
# Images per CNN call when no gradient is kept (evaluation): bounds the [images, runs·20, 24, 24]
# activations of a stacked CNN.
_EVAL_IMAGES_TIMES_RUNS = 4096


class _CellInputPenalty(ArithmeticUnit):
    """Holds the R_z value the network measured in its last training forward pass, as an arithmetic
    unit's regularizer ``"z"`` (how the trainer finds and scales regularizers). No parameters."""

    def __init__(self) -> None:
        super().__init__(1, 1)
        self.value: Tensor | None = None

    def reset_parameters(self) -> None:
        self.value = None

    def regularizers(self) -> dict[str, Tensor]:
        return {} if self.value is None else {"z": self.value}

    def __deepcopy__(self, memo: dict[int, Any]) -> _CellInputPenalty:
        # a stored value belongs to one forward pass's graph: copies (stacking, snapshots) start empty
        return _CellInputPenalty()


def solved_accumulator_(unit: nn.Module) -> None:
    """Make an NAU or NMU cell the exact accumulator: ``W = [1, 1]``, frozen (no gradient)."""
    with torch.no_grad():
        unit.W.fill_(1.0)  # type: ignore[operator]
    unit.W.requires_grad_(False)  # type: ignore[operator]


class SequentialMnistNetwork(nn.Module):
    """Images ``[..., B, T, 1, 28, 28]`` -> the running result ``[..., B, T]`` (see the module docstring).

    ``unit_name`` is the cell's registered name (it decides the R_z form and whether the cell works
    in log space); ``initial_state`` is ``h_0``; ``z_regularizer`` turns the R_z measurement on.
    Parameters: ``cnn.*``, ``cell.unit.*``; buffer ``initial_state`` ``[1]`` (stacked: ``[S, 1]``).
    """

    def __init__(
        self,
        cnn: MnistCNN,
        cell: RecurrentCell,
        *,
        unit_name: str,
        initial_state: float,
        z_regularizer: bool = False,
    ) -> None:
        super().__init__()
        if (cell.input_features, cell.state_features) != (1, 1):
            raise ValueError(f"SequentialMnistNetwork: the cell maps a digit and a state of 1 (1 + 1 -> 1), "
                             f"got {cell.input_features} + {cell.state_features}")
        if z_regularizer and unit_name not in Z_FORMS:
            raise ValueError(f"z_regularizer: the reference defines R_z for {', '.join(sorted(Z_FORMS))}, "
                             f"not for {unit_name!r}")
        self.cnn = cnn
        self.cell = cell
        self.unit_name = unit_name
        self.log_space = unit_name in _LOG_SPACE_CELLS
        self.eps = float(getattr(cell.unit, "eps", 1e-7))
        ref = next(iter(cnn.parameters()))
        self.register_buffer("initial_state", torch.full((1,), float(initial_state), dtype=ref.dtype,
                                                         device=ref.device))
        self.z_form = Z_FORMS[unit_name] if z_regularizer else None
        self.z_term = _CellInputPenalty() if z_regularizer else None

    @property
    def in_features(self) -> int:
        return self.cnn.in_features

    @property
    def out_features(self) -> int:
        return 1

    def digits(self, images: Tensor) -> Tensor:
        """The CNN's value of every image: ``[..., 1, 28, 28]`` -> ``[..., ]`` (stacked: leading
        ``[S]``). Without autograd it runs in chunks of images, so long test sets fit in memory."""
        if images.shape[-3:] != IMAGE_SHAPE:
            raise ValueError(f"SequentialMnistNetwork: expected images [..., 1, 28, 28], got {list(images.shape)}")
        run = self.cnn.run_shape
        if torch.is_grad_enabled() or not run:
            return self.cnn(images).squeeze(-1)
        lead, batch = images.shape[: len(run)], images.shape[len(run):-3]
        flat = images.reshape(*lead, -1, *IMAGE_SHAPE)
        step = max(1, _EVAL_IMAGES_TIMES_RUNS // run.numel())
        parts = [self.cnn(flat[..., i: i + step, :, :, :]) for i in range(0, flat.shape[len(run)], step)]
        return torch.cat(parts, dim=len(run)).reshape(*run, *batch)

    def accumulate(self, values: Tensor) -> Tensor:
        """The cell over a sequence of digit values ``[..., B, T]`` -> every state ``[..., B, T]``,
        from ``initial_state``; in training, R_z is measured on the way (when on)."""
        h0 = self.initial_state.unsqueeze(-1)  # [..., 1, 1]: broadcast over the batch by the cell
        states = self.cell(values.unsqueeze(-1), h0, return_sequence=True)  # [..., B, T, 1]
        if self.z_term is not None:
            self.z_term.value = self._z(values, h0, states) if self.training else None
        return states.squeeze(-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.accumulate(self.digits(x))

    def _z(self, values: Tensor, h0: Tensor, states: Tensor) -> Tensor:
        """R_z per run ``[...]`` over the cell's inputs ``[l_t, h_{t−1}]`` of this batch (stable-nalu
        ``RegualizerNAUZ`` / ``RegualizerNMUZ``: the mean input over every row the unit saw)."""
        previous = torch.cat([h0.unsqueeze(-1).expand(*states.shape[:-2], 1, 1), states[..., :-1, :]], -2)
        inputs = torch.cat([values.unsqueeze(-1).expand_as(previous), previous], -1)  # [..., B, T, 2]
        if self.log_space:
            inputs = torch.log(inputs.abs() + self.eps)
        z_mean = inputs.mean(dim=(-3, -2)).unsqueeze(-2)  # [..., 1, 2], against W [..., 1, 2]
        unit = self.cell.unit
        W = unit.W if hasattr(unit, "W") else unit.weight  # raw W (NAU, NMU) or the NAC's tanh·σ
        if self.z_form == "nau":
            penalty = (1 - W.abs()) * z_mean.square()
        else:
            penalty = (1 - W) * (1 - z_mean).square()
        return penalty.mean(dim=(-2, -1))

    def extra_repr(self) -> str:
        return f"cell={self.unit_name!r}, z_regularizer={self.z_form is not None}"
