"""The model registry: one frozen card per book network, and ``build``.

A card is data: the architecture arguments its builder takes, the book's
recipe (cost, initialisation, η, λ, epochs, data), the book's original call,
the exact parameter count and the result the book reports. ``build`` turns a
card plus validated overrides into a compiled ``keras.Model``.

Example:

>>> import nnzoo
>>> nnzoo.list_models("conv2_relu*")
['conv2_relu', 'conv2_relu_2fc', 'conv2_relu_2fc300', 'conv2_relu_2fc1000', 'conv2_relu_fc300', 'conv2_relu_fc1000']
>>> nnzoo.card("conv2_dropout").params
1672570
>>> model = nnzoo.build("shallow_sigmoid", hidden=(100,), seed=0)
"""

import dataclasses
import difflib
import fnmatch
import types
from typing import Callable, Mapping, Optional

from nnzoo.naming import natural_key

__all__ = ["BookResult", "ModelCard", "register", "list_models", "card", "build", "book_url"]

BOOK_URL = "http://neuralnetworksanddeeplearning.com/chap{chapter}.html"


def book_url(chapter):
    """The online book's page of a chapter.

    >>> book_url(6)
    'http://neuralnetworksanddeeplearning.com/chap6.html'
    """
    return BOOK_URL.format(chapter=chapter)


def _frozen(mapping):
    return types.MappingProxyType(dict(mapping))


@dataclasses.dataclass(frozen=True)
class BookResult:
    """A number the book reports, and how it was measured: the one type for it (cards and experiments).

    Attributes:
        accuracy: the reported classification accuracy, in percent; ``None`` for a number that is not an
            accuracy (chapter 5's learning speeds, in ``values``).
        split: ``"test"``, ``"validation"`` or ``"training"``: the data it was measured on.
        protocol: how the number was picked, in words, e.g. ``"peak test accuracy over the epochs;
            reshuffled every epoch; best of 3 runs"``. On a card it is filled from the card's
            ``nnzoo.protocols.Protocol`` when left empty.
        experiment: the experiment id (``nnzoo.experiments``, e.g. ``"C6-11"``).
        source: the chapter and section of the book that states the number
            (``book_url(chapter)`` is the chapter online).
        report: which epoch of a run it is: ``"peak"`` (the protocol's pick), ``"first"`` or ``"final"``
            (the book printed a per-epoch transcript and quotes one epoch of it).
        runs: how many runs the book took the best of.
        values: the numbers that are not an accuracy (``None`` otherwise).
    """

    accuracy: Optional[float]
    split: str
    protocol: str = ""
    experiment: str = ""
    source: str = ""
    report: str = "peak"
    runs: int = 1
    values: Optional[Mapping] = None

    def text(self):
        """``98.04% validation (C3-12)``; ``no number in the book`` without an accuracy."""
        if self.accuracy is None:
            return "no number in the book"
        return f"{self.accuracy:.2f}% {self.split}" + (f" ({self.experiment})" if self.experiment else "")

    def to_dict(self):
        """A JSON-friendly dict (tuples in ``values`` as lists; no ``values`` key when there are none)."""
        out = dataclasses.asdict(self)
        if self.values is None:
            del out["values"]
        else:
            out["values"] = {key: list(value) if isinstance(value, tuple) else value
                             for key, value in self.values.items()}
        return out


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """Frozen metadata of one registered network.

    Attributes:
        name: the registry name.
        chapter: the book chapter it comes from.
        summary: one line on what the network is.
        book_code: the book's program that trains it (``network.py``,
            ``network2.py`` or ``network3.py``); it decides the L2 scaling.
        book_call: the book's original code that builds and trains it.
        architecture: the keyword arguments of the builder (``hidden``,
            ``activation``, ``conv``, ``p_dropout``, ...).
        recipe: the book's training set-up: ``cost``, ``init``, ``eta``,
            ``lmbda``, ``regularization``, ``batch_size``, ``n_train``,
            ``epochs``, ``data``.
        params: the exact number of trainable parameters.
        book_result: what the book reports for the canonical recipe, or
            ``None`` when the book gives no number.
    """

    name: str
    chapter: int
    summary: str
    book_code: str
    book_call: str
    architecture: Mapping
    recipe: Mapping
    params: int
    book_result: Optional[BookResult] = None
    builder: Callable = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "architecture", _frozen(self.architecture))
        object.__setattr__(self, "recipe", _frozen(self.recipe))
        if self.book_result is not None and not self.book_result.protocol:  # the protocol says it in words
            from nnzoo.protocols import Protocol  # noqa: PLC0415

            members = self.architecture.get("n_members") if self.is_ensemble else None
            text = Protocol.for_card(self).describe(runs=self.book_result.runs, members=members)
            object.__setattr__(self, "book_result", dataclasses.replace(self.book_result, protocol=text))

    @property
    def is_ensemble(self):
        """Whether the network is a vote of independently trained members (``conv2_dropout_ensemble``)."""
        return "member" in self.architecture

    @property
    def weights(self):
        """The shipped weights' record (``nnzoo.pretrained.Weights``), or ``None``."""
        from nnzoo import pretrained  # noqa: PLC0415

        return pretrained.get(self.name)

    def to_dict(self):
        """A JSON-friendly dict of the card (without the builder)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "builder"}
        out["architecture"] = dict(self.architecture)
        out["recipe"] = dict(self.recipe)
        out["book_result"] = self.book_result.to_dict() if self.book_result else None
        out["weights"] = self.weights.to_dict() if self.weights else None
        out["book_url"] = book_url(self.chapter)
        return out


_REGISTRY = {}


def register(model_card):
    """Add a card to the registry. Names are unique."""
    if model_card.name in _REGISTRY:
        raise ValueError(f"A model named {model_card.name!r} is already registered.")
    if model_card.builder is None:
        raise ValueError(f"The card {model_card.name!r} has no builder.")
    _REGISTRY[model_card.name] = model_card
    return model_card


def _patterns(value, argument):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(
        f"{argument} must be a name pattern or a list of them, e.g. {argument}='conv2_*'. "
        f"Received: {argument}={value!r}."
    )


def list_models(include="*", exclude=None, *, pretrained=False, chapter=None):
    """Names of the registered networks in natural order, filtered with fnmatch patterns.

    Args:
        include: a pattern or a list of patterns a name must match (any).
        exclude: a pattern or a list of patterns a name must not match.
        pretrained: only networks with shipped weights (``build(name, weights="mnist")``).
        chapter: only the networks of this chapter (an int 1-6) or these chapters (a list).

    Example:

    >>> list_models("deep_sigmoid_*")
    ['deep_sigmoid_1', 'deep_sigmoid_2', 'deep_sigmoid_3', 'deep_sigmoid_4']
    >>> set(list_models(pretrained=True)) <= set(list_models())
    True
    """
    includes, excludes = _patterns(include, "include"), _patterns(exclude, "exclude")
    if not isinstance(pretrained, bool):
        raise ValueError(f"pretrained must be True or False. Received: pretrained={pretrained!r}.")
    chapters = None if chapter is None else [chapter] if not isinstance(chapter, (list, tuple, set)) else list(chapter)
    if chapters is not None and not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 6
                                        for c in chapters):
        raise ValueError(f"chapter must be a chapter number 1-6 or a list of them. Received: chapter={chapter!r}.")
    return sorted(
        (
            name
            for name in _REGISTRY
            if any(fnmatch.fnmatchcase(name, p) for p in includes)
            and not any(fnmatch.fnmatchcase(name, p) for p in excludes)
            and (chapters is None or _REGISTRY[name].chapter in chapters)
            and (not pretrained or _REGISTRY[name].weights is not None)
        ),
        key=natural_key,
    )


def card(name):
    """The frozen ``ModelCard`` of a registered network.

    Raises:
        ValueError: for an unknown name, listing the closest registered names.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model name. Received: name={name!r}.{hint} "
        f"See nnzoo.list_models() for all {len(_REGISTRY)} names."
    )


def build(name, weights=None, **overrides):
    """Build a registered network as a ``keras.Model``, compiled the book's way.

    Every model takes a 28×28×1 float input named ``image`` with pixel values
    in [0, 1] and trains on integer labels 0-9.

    Args:
        name: a registry name (see ``list_models()``).
        **overrides: change the card's defaults. Architecture: ``hidden``
            (fully-connected widths), ``activation`` (``"sigmoid"``,
            ``"tanh"``, ``"relu"``), ``p_dropout`` (network3-style dropout on
            the input of every fully-connected layer). Training:
            ``cost`` (``"quadratic"``, ``"cross_entropy"``,
            ``"log_likelihood"``), ``init`` (``"large"``, ``"default"``,
            ``"network3"``), ``lmbda`` (the book's λ) with ``regularization``
            (``"l2"``, ``"l1"``), ``n_train`` (the training-set size n of
            the book's λ/n scaling), ``batch_size`` (network3's L2 scaling),
            ``eta`` (the SGD learning rate). Also ``seed`` (int or ``None``)
            and ``compile`` (default ``True``).
        weights: ``None`` (a fresh initialisation), ``"mnist"`` (the shipped
            weights, trained by the book's recipe: see ``card(name).weights``
            and ``list_models(pretrained=True)``), or the path of a
            ``.weights.h5`` file, a ``.keras`` file, a run directory of
            ``nnzoo train`` (its best run's weights at the epoch the protocol
            picked) or a SavedModel version directory of ``nnzoo export`` (its
            variables, read as data once its nnzoo card names this network). With ``"mnist"``, training overrides (``eta``, ``lmbda``,
            ...) are allowed for fine-tuning; architecture overrides are not.

    Returns:
        A Functional ``keras.Model``. When compiled: plain SGD with the
        card's η, the card's cost as the loss, the card's penalty on every
        weight matrix, and an ``accuracy`` metric.

    Raises:
        ValueError: unknown name or override, or an invalid value; raised
            before anything is built.

    Example:

    >>> model = build("conv2_dropout", seed=1)
    >>> model = build("shallow_sigmoid", hidden=(100,), cost="cross_entropy",
    ...               init="large", lmbda=5.0, eta=0.1)
    >>> model = build("network2", weights="mnist")  # doctest: +SKIP
    """
    from nnzoo import options, pretrained  # noqa: PLC0415  (kept out of import-time cycles)

    model_card = card(name)
    config = options.resolve(model_card, overrides)
    source = pretrained.source(model_card, weights, overrides)
    model = model_card.builder(model_card, config)
    return model if source is None else pretrained.load_into(model, source, registered=list(_REGISTRY))
