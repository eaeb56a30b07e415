"""The CNN that maps an MNIST image to a digit value in Madsen & Johansen's sequential MNIST task.

stable-nalu ``network/regression_mnist.py`` (``RegressionMnistNetwork``), itself PyTorch's MNIST
example with one output: conv 1->20 (5x5) - ReLU - max-pool 2 - conv 20->50 (5x5) - ReLU - max-pool
2 - linear 800->500 - ReLU - linear 500->``out_features``. The published runs use one output
(``--mnist-outputs 1``) and no softmax transform, which is what this module implements.

It is not an arithmetic unit (no regularizer, no projection, not in the unit registry): it is the
image front end a sequence model puts before its recurrent arithmetic cell. Like the units it may be
*stacked*: every parameter may carry a leading run axis ``[S, ...]`` (``nalm.training.model.
stack_modules`` does that), and the forward pass then runs S independent CNNs as grouped
convolutions and batched matrix products.

Initialisation: :meth:`MnistCNN.reset_parameters` draws exactly what ``torch.nn.Conv2d`` and
``torch.nn.Linear`` draw (Kaiming-uniform with a = √5 for the weights, U(±1/√fan_in) for the biases),
in the reference's order (conv1, conv2, fc1, fc2; weight before bias), so under the same
``torch.manual_seed`` the parameters equal the reference's to the bit.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nalm.errors import ConfigError

from ._base import factory_kwargs

IMAGE_SHAPE = (1, 28, 28)

_CONV1, _CONV2, _HIDDEN = 20, 50, 500
_FLAT = _CONV2 * 4 * 4


class MnistCNN(nn.Module):
    """Image ``[..., 1, 28, 28]`` -> digit value(s) ``[..., out_features]``.

    ``in_features`` is the flattened image size and must be 784 (it is there so the constructor
    reads like a unit's: ``MnistCNN(784, 1, device=..., dtype=...)``). Parameters:
    ``conv1_weight [20, 1, 5, 5]``, ``conv1_bias [20]``, ``conv2_weight [50, 20, 5, 5]``,
    ``conv2_bias [50]``, ``fc1_weight [500, 800]``, ``fc1_bias [500]``, ``fc2_weight [out, 500]``,
    ``fc2_bias [out]``.

    Stacked (each parameter ``[S, ...]``): inputs ``[S, *batch, 1, 28, 28]`` — or ``[1, *batch, 1,
    28, 28]``, one set of images shared by every run — give ``[S, *batch, out_features]``; run s's
    output is what run s's own CNN gives.
    """

    def __init__(
        self,
        in_features: int = 28 * 28,
        out_features: int = 1,
        *,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(in_features, bool) or in_features != 28 * 28:
            raise ConfigError(f"in_features: the MNIST CNN takes 28x28 images (784), got {in_features!r}")
        if isinstance(out_features, bool) or not isinstance(out_features, int) or out_features < 1:
            raise ConfigError(f"out_features: expected a positive integer, got {out_features!r}")
        self.in_features = 28 * 28
        self.out_features = out_features
        fk = factory_kwargs(device, dtype)
        self.conv1_weight = nn.Parameter(torch.empty(_CONV1, 1, 5, 5, **fk))
        self.conv1_bias = nn.Parameter(torch.empty(_CONV1, **fk))
        self.conv2_weight = nn.Parameter(torch.empty(_CONV2, _CONV1, 5, 5, **fk))
        self.conv2_bias = nn.Parameter(torch.empty(_CONV2, **fk))
        self.fc1_weight = nn.Parameter(torch.empty(_HIDDEN, _FLAT, **fk))
        self.fc1_bias = nn.Parameter(torch.empty(_HIDDEN, **fk))
        self.fc2_weight = nn.Parameter(torch.empty(out_features, _HIDDEN, **fk))
        self.fc2_bias = nn.Parameter(torch.empty(out_features, **fk))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's Conv2d/Linear initialisation, from the declared sizes (so stacked parameters get
        the same distribution), in the reference's order."""
        # torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5)), computed as torch computes it
        gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
        with torch.no_grad():
            for name, fan_in in (("conv1", 25), ("conv2", _CONV1 * 25), ("fc1", _FLAT), ("fc2", _HIDDEN)):
                w_bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
                getattr(self, f"{name}_weight").uniform_(-w_bound, w_bound)
                b_bound = 1 / math.sqrt(fan_in)
                getattr(self, f"{name}_bias").uniform_(-b_bound, b_bound)

    @property
    def run_shape(self) -> torch.Size:
        """The parameters' leading run dimensions (empty for an ordinary module)."""
        return self.conv1_weight.shape[:-4]

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-3:] != IMAGE_SHAPE:
            raise ValueError(f"MnistCNN: expected images [..., 1, 28, 28], got {list(x.shape)}")
        run = self.run_shape
        if not run:
            batch = x.shape[:-3]
            y = self._single(x.reshape(-1, *IMAGE_SHAPE))
            return y.reshape(*batch, self.out_features)
        r = run.numel()
        lead = x.shape[: len(run)]
        if x.dim() < len(run) + 3 or (lead != run and any(d != 1 for d in lead)):
            raise ValueError(f"MnistCNN: stacked over runs {list(run)}, expected images "
                             f"[{', '.join(map(str, run))} (or 1s), ..., 1, 28, 28], got {list(x.shape)}")
        batch = x.shape[len(run):-3]
        shared = lead != run
        m = batch.numel()
        if shared:  # one set of images for every run: an ordinary convolution with R*20 filters
            h = F.conv2d(x.reshape(m, 1, 28, 28), self.conv1_weight.reshape(r * _CONV1, 1, 5, 5),
                         self.conv1_bias.reshape(r * _CONV1))
        else:  # run s's images through run s's filters: a grouped convolution, one group per run
            xs = x.reshape(r, m, 28, 28).transpose(0, 1)  # [M, R, 28, 28]
            h = F.conv2d(xs, self.conv1_weight.reshape(r * _CONV1, 1, 5, 5),
                         self.conv1_bias.reshape(r * _CONV1), groups=r)
        h = F.max_pool2d(F.relu(h), 2, 2)  # [M, R*20, 12, 12]
        h = F.conv2d(h, self.conv2_weight.reshape(r * _CONV2, _CONV1, 5, 5),
                     self.conv2_bias.reshape(r * _CONV2), groups=r)
        h = F.max_pool2d(F.relu(h), 2, 2)  # [M, R*50, 4, 4]
        h = h.reshape(m, r, _FLAT).transpose(0, 1)  # [R, M, 800], each row in the reference's (c, h, w) order
        h = F.relu(torch.baddbmm(self.fc1_bias.reshape(r, 1, _HIDDEN), h,
                                 self.fc1_weight.reshape(r, _HIDDEN, _FLAT).transpose(1, 2)))
        y = torch.baddbmm(self.fc2_bias.reshape(r, 1, self.out_features), h,
                          self.fc2_weight.reshape(r, self.out_features, _HIDDEN).transpose(1, 2))
        return y.reshape(*run, *batch, self.out_features)

    def _single(self, x: Tensor) -> Tensor:
        h = F.max_pool2d(F.relu(F.conv2d(x, self.conv1_weight, self.conv1_bias)), 2, 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, self.conv2_weight, self.conv2_bias)), 2, 2)
        h = F.relu(F.linear(h.reshape(-1, _FLAT), self.fc1_weight, self.fc1_bias))
        return F.linear(h, self.fc2_weight, self.fc2_bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
