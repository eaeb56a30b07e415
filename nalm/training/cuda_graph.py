"""The ``"cuda_graph"`` backend: an on-device :class:`~nalm.training.update.Update` captured once as
a CUDA graph and replayed, one launch per step instead of a hundred or more.

The first steps run eagerly on a side stream (cuBLAS and autograd set themselves up on first use,
and capture needs that done: torch.cuda.graphs' documented warm-up); the next one is captured, and
every later step fills the step counter on the device and replays the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .update import Update

# Eager steps before the graph is captured.
WARMUP_STEPS = 3


class GraphedUpdate:
    """Runs ``update`` (built with ``on_device=True``) through warm-up, capture and replay."""

    def __init__(self, update: Update) -> None:
        if not update.on_device:
            raise ValueError("GraphedUpdate needs an on-device Update")
        self.update = update
        device = update.runs.device
        self.device = device
        self.step_tensor = torch.zeros((), dtype=torch.long, device=device)
        self.graph: Any = None
        self.graph_mse: Tensor | None = None
        self.warmup_stream: Any = None

    def __call__(self, step: int, scales: Mapping[str, Any]) -> Tensor:
        """One update at ``step``; ``scales`` are the update's device buffers, already filled.
        Returns the training MSE ``[S]`` in a buffer the next replay overwrites."""
        self.step_tensor.fill_(step)
        if self.graph is None and step >= WARMUP_STEPS:
            self._capture(scales)
        if self.graph is not None:
            self.graph.replay()
            assert self.graph_mse is not None
            return self.graph_mse
        if self.warmup_stream is None:
            self.warmup_stream = torch.cuda.Stream(self.device)
        self.warmup_stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.warmup_stream):
            mse = self.update(self.step_tensor, scales)
        torch.cuda.current_stream(self.device).wait_stream(self.warmup_stream)
        return mse

    def _capture(self, scales: Mapping[str, Any]) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                mse = self.update(self.step_tensor, scales)
        except RuntimeError as error:
            # Something in this model's update reads back to the host (torch.prod's backward tests
            # its input for zeros: an NMU over > 2 inputs, iNALU's sign). Training on after a failed
            # capture is not safe with torch 2.11 (a run of the Gated model then turned to NaN: the
            # allocator keeps serving the abandoned graph's memory), so stop, and say what to do.
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise RuntimeError(
                f"cuda_graph: this model's update cannot be captured as a CUDA graph ({reason}); "
                "train it without cuda_graph"
            ) from error
        self.graph, self.graph_mse = graph, mse  # capture records the step without running it
