"""Run the iNALU authors' public TensorFlow 1 script on today's TensorFlow, unchanged otherwise.

    python benchmarks/inalu_tf_boot.py CHECKOUT nalu_syn_simple_arith.py [its arguments...]

``CHECKOUT`` is a checkout of daschloer/inalu (``git clone https://github.com/daschloer/inalu``; this
script never downloads). The script was written for TensorFlow 1.8 and numpy 1.14; to run it on
TensorFlow 2 (``pip install tensorflow-cpu scikit-learn scipy``, in an environment of its own) three
things stand in, and nothing else of the reference is touched:

* ``tensorflow`` is ``tensorflow.compat.v1`` with v2 behaviour disabled (graph mode, sessions,
  ``tf.train.RMSPropOptimizer`` — the TF1 code paths);
* ``np.reshape(a, newshape=...)``, removed in numpy 2, is accepted again;
* ``nalu_architectures.py`` as published does not compile: ``activation_layer`` misses a closing
  parenthesis (line 15; the function is not used by the iNALU experiments). The module is compiled
  here from its source with that one parenthesis added; the file is left as it is.

The script then runs as ``__main__`` from ``CHECKOUT`` (its result files go to the working folder),
with its own ``np.random.seed(seed)`` stream for data, initial weights and re-initialisations.
``benchmarks/check_inalu_reference.py`` runs it over seeds and compares with the published runs.
"""

from __future__ import annotations

import os
import runpy
import sys
import types

MISSING_PARENTHESIS = (
    "out_w = tf.Variable(initialization([outputdim, inputdim])\n",
    "out_w = tf.Variable(initialization([outputdim, inputdim]))\n",
)


def _reshape_with_newshape(original):
    def reshape(a, shape=None, *args, newshape=None, **kwargs):
        return original(a, newshape if shape is None else shape, *args, **kwargs)

    return reshape


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    checkout, script = os.path.abspath(argv[0]), argv[1]
    import numpy as np
    import tensorflow.compat.v1 as tf1

    tf1.disable_v2_behavior()
    sys.modules["tensorflow"] = tf1
    np.reshape = _reshape_with_newshape(np.reshape)

    path = os.path.join(checkout, "nalu_architectures.py")
    with open(path) as handle:
        source = handle.read()
    old, new = MISSING_PARENTHESIS
    if old in source:
        source = source.replace(old, new, 1)
    architectures = types.ModuleType("nalu_architectures")
    architectures.__file__ = path
    sys.modules["nalu_architectures"] = architectures
    exec(compile(source, path, "exec"), architectures.__dict__)

    sys.path.insert(0, checkout)
    sys.argv = [script, *argv[2:]]
    runpy.run_path(os.path.join(checkout, script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
