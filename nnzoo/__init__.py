"""nnzoo: every network of Nielsen's *Neural Networks and Deep Learning* in Keras 3.

>>> import nnzoo
>>> nnzoo.list_models("conv2_*")[:3]
['conv2', 'conv2_dropout', 'conv2_dropout_ensemble']
>>> model = nnzoo.build("conv2_dropout")
"""

import importlib
import os
import sys

__version__ = "0.1.0"

from nnzoo import quiet  # noqa: E402  (the standard library only)
from nnzoo import models  # noqa: E402,F401  (registers the networks: cards are data, no Keras needed)
from nnzoo.registry import BookResult, ModelCard, build, card, list_models  # noqa: E402
from nnzoo.recipe import Recipe  # noqa: E402

# What needs Keras (and so TensorFlow), by the attribute that names it.
_KERAS_SIDE = {
    "callbacks": "nnzoo.callbacks", "initializers": "nnzoo.initializers", "layers": "nnzoo.layers",
    "losses": "nnzoo.losses", "regularizers": "nnzoo.regularizers", "export": ("nnzoo.exporting", "export"),
    "export_saved_model": ("nnzoo.exporting", "export"), "load": ("nnzoo.weights_io", "load_model"),
    "load_weights": ("nnzoo.weights_io", "load_weights"), "read_card": ("nnzoo.formats", "read_card"),
    "train": ("nnzoo.runner", "train"), "TrainResult": ("nnzoo.training", "TrainResult"),
}


def __getattr__(name):
    """Import the Keras side on first use (only the command line's own import defers it)."""
    target = _KERAS_SIDE.get(name)
    if target is None:
        raise AttributeError(f"module 'nnzoo' has no attribute {name!r}")
    module, attribute = (target, None) if isinstance(target, str) else target
    value = importlib.import_module(module)
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value


def _import_keras_side():
    """Import every module that registers objects with Keras (its costs, layers, penalties, ...)."""
    for name in _KERAS_SIDE:
        __getattr__(name)
    importlib.import_module("nnzoo.models.book_model")  # the class every network is


# `import nnzoo` registers nnzoo's objects with Keras, so keras.models.load_model reads its models.
# The `nnzoo` command sets _NNZOO_COMMAND_LINE to answer `nnzoo list`, `info` and `--help` without
# TensorFlow; its other commands import the Keras side themselves. `python -m nnzoo ...` is the same
# command: while Python locates the module it runs, sys.argv[0] is "-m".
# A recipe script (``python recipes/ch1_network.py``) hides TensorFlow's start-up lines for its whole
# run (nnzoo.quiet; ``-v`` shows them); a library import leaves descriptor 2 alone.
_COMMAND_LINE = bool(os.environ.pop("_NNZOO_COMMAND_LINE", None)) or sys.argv[:1] == ["-m"]
if not _COMMAND_LINE:
    if quiet.is_recipe_script(sys.argv[0] if sys.argv else "") and quiet.wanted():
        quiet.hide_for_the_process()
    _import_keras_side()

__all__ = ["BookResult", "ModelCard", "Recipe", "TrainResult", "build", "card", "export", "export_saved_model", "list_models",
           "load", "load_weights", "read_card", "train", "__version__"]
