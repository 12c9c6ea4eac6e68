"""A recipe: which network to train, how it differs from its card, on what data, for how long, and how its
number is picked.

A card's own recipe is ``Recipe(name)``; a book experiment's recipe is ``nnzoo.experiments.get(ID).recipe``.
``nnzoo.train`` takes either, or a network name, or an experiment id.

Example:

>>> from nnzoo.recipe import Recipe
>>> recipe = Recipe("network2", {"hidden": (100,), "lmbda": 0.0}, epochs=10)
>>> recipe.settings()["hidden"], recipe.settings()["epochs"], recipe.protocol.describe()
((100,), 10, 'peak test accuracy over the epochs; reshuffled every epoch')
>>> nnzoo.train(recipe)  # doctest: +SKIP
"""

import dataclasses
import types
from typing import Mapping, Optional

from nnzoo import data, options, registry
from nnzoo.protocols import Protocol

__all__ = ["Recipe"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What to train and how to pick its number.

    Attributes:
        network: a registry name (``nnzoo.list_models()``).
        overrides: the model overrides: changes to the card's architecture or
            the model part of its recipe (``eta``, ``lmbda``, ``init``,
            ``hidden``, ...; ``nnzoo.options.model_keys``), and ``eta_final``
            (η's geometric decay); checked when the Recipe is made.
        The other fields are the training settings (``nnzoo.options.TRAINING_KEYS``):

        epochs, data: ``None`` keeps the card's (``data``: ``"mnist"``,
            ``"expanded"`` or ``"mnist[:N]"``).
        runs: independent runs; the protocol picks the best.
        protocol: a ``nnzoo.protocols.Protocol``; ``None`` gives the card's
            (``Protocol.for_card``).
        n_validation: score on the first n validation images only.
        monitor: record network2's full-pass costs and training accuracy.
    """

    network: str
    overrides: Mapping = dataclasses.field(default_factory=dict)
    epochs: Optional[int] = None
    data: Optional[str] = None
    runs: int = 1
    protocol: Optional[Protocol] = None
    n_validation: Optional[int] = None
    monitor: bool = False

    def __post_init__(self):
        model_card = registry.card(self.network)  # a ValueError names the registered networks
        if not isinstance(self.overrides, Mapping):
            raise ValueError(f"Recipe overrides must be a mapping of recipe keys to values. "
                             f"Received: overrides={self.overrides!r}.")
        # Checked here, once: a training takes the Recipe as it is.
        checked = options.check_recipe_overrides(model_card, self.overrides)
        object.__setattr__(self, "overrides", types.MappingProxyType(checked))
        if self.protocol is None:
            object.__setattr__(self, "protocol", Protocol.for_card(model_card))
        elif not isinstance(self.protocol, Protocol):
            raise ValueError(f"protocol must be an nnzoo.protocols.Protocol. Received: protocol={self.protocol!r}.")
        # 'mnist[:0]', '' or n_validation=0 selects nothing: refused here, not when training
        data.check_request(self.data, n_validation=self.n_validation)
        for key in ("epochs", "runs"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"Recipe {key} must be a positive integer. Received: {key}={value!r}.")

    @property
    def card(self):
        return registry.card(self.network)

    def settings(self):
        """The card's recipe with this recipe's changes, epochs and data: what one run trains with."""
        recipe = self.card.recipe
        return {**recipe, **self.overrides, "epochs": self.epochs or recipe["epochs"],
                "data": self.data or recipe["data"]}

    def replace(self, **changes):
        """A copy with some fields changed, e.g. ``recipe.replace(epochs=1)``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """A JSON-friendly dict."""
        return {"network": self.network, "overrides": dict(self.overrides), "epochs": self.epochs, "data": self.data,
                "runs": self.runs, "protocol": self.protocol.describe(), "n_validation": self.n_validation,
                "monitor": self.monitor}
