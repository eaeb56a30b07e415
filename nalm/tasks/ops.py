"""The arithmetic operations of the benchmark tasks: one list, shared by the tasks, the metrics, the
CLI and the suite schema.

Torch-free on purpose: the CLI validates ``--op`` against it without loading torch.
"""

from __future__ import annotations

#: Every operation of the static task (Madsen & Johansen 2020), in the papers' order.
OPS: tuple[str, ...] = ("add", "sub", "mul", "div", "squared", "root")

#: Operations that use the second subset ``b`` (``add`` and ``mul`` use every subset; ``squared``
#: and ``root`` only ``a``).
BINARY_OPS = frozenset({"sub", "div"})

#: Operations that use only the first subset ``a``.
UNARY_OPS = frozenset({"squared", "root"})

#: The operations of the Primer's single-module benchmark (Mistry et al. 2022).
PRIMER_OPS: tuple[str, ...] = ("add", "sub", "mul", "div")

#: The operations of the TensorFlow article's two demos.
ARTICLE_OPS: tuple[str, ...] = ("add", "mul")
