"""nnzoo: every network of Nielsen's *Neural Networks and Deep Learning* in Keras 3.

>>> import nnzoo
>>> nnzoo.list_models("conv2_*")[:3]
['conv2', 'conv2_dropout', 'conv2_dropout_ensemble']
>>> model = nnzoo.build("conv2_dropout")
"""

__version__ = "0.1.0"

from nnzoo import callbacks, initializers, layers, losses, regularizers  # noqa: F401
from nnzoo import models  # noqa: F401  (registers the networks)
from nnzoo.registry import BookResult, ModelCard, build, card, list_models
from nnzoo import export  # the module; calling it exports (nnzoo.export(model, path))
from nnzoo.export import export as export_saved_model, load
from nnzoo.training import TrainResult, train

__all__ = ["BookResult", "ModelCard", "TrainResult", "build", "card", "export", "export_saved_model", "list_models", "load", "train", "__version__"]
