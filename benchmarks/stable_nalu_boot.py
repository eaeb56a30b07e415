"""Run a stable-nalu experiment script from a checkout, as its cluster jobs ran it, on today's Python.

    PYTHONPATH=<checkout> python benchmarks/stable_nalu_boot.py <checkout>/experiments/simple_function_static.py ARGS

Used by ``bench_trainer.py --stable-nalu``; never downloads anything. Two shims, neither in the
training loop:

* ``stable_nalu/__init__`` imports its TensorBoard *reader* (tensorflow; used only to export results
  for the R scripts) and its sequential-MNIST dataset (torchvision). Where those packages are not
  installed, empty modules stand in for them: the static task touches neither.
* The script ends with ``torch.save(model)``, which pickles the whole module including its
  tensorboardX writer, and fails on current tensorboardX (the writer holds a multiprocessing queue).
  It is replaced by saving the model's ``state_dict`` to the same file — the same write, after the
  last iteration.

Its own dependencies (``pip install tensorboardX pandas``, and numpy/torch/tqdm) must be installed.
"""

from __future__ import annotations

import importlib.machinery
import runpy
import sys
import types


def _stub_missing(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.__spec__ = importlib.machinery.ModuleSpec(name, None)  # torch._dynamo looks it up
            sys.modules[name] = stub


def main() -> None:
    _stub_missing(("tensorflow", "torchvision"))
    import torch

    import stable_nalu

    save_module = sys.modules["stable_nalu.writer.save_model"]  # the package re-exports a function of that name

    def save_state(name, model):  # noqa: ANN001, ANN202 - the reference's signature
        import os

        file = os.path.join(save_module.SAVE_DIR, name) + ".pth"
        os.makedirs(os.path.dirname(file), exist_ok=True)
        torch.save(model.state_dict(), file)

    stable_nalu.writer.save_model = save_state
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
