"""The book's experiments: one table, each row a registered network plus changes.

A canonical experiment is the recipe on a model card (its number lives on the
card); the other rows change the card's recipe and carry the number the book
reports for them. This module is the table and its look-ups only: training a
row and writing its ``experiment.json`` is ``nnzoo.runner``'s job.

Example:

>>> from nnzoo import experiments
>>> [e.id for e in experiments.chapter(1)]
['C1-01', 'C1-02', 'C1-03', 'C1-04', 'C1-05', 'C1-06', 'C1-07']
>>> experiments.get("C3-11").recipe.overrides["hidden"], experiments.get("C3-11").book.text()
((100,), '97.92% validation (C3-11)')
>>> from nnzoo import runner
>>> runner.run("C1-01", epochs=1)  # doctest: +SKIP
"""

import dataclasses
import types
import warnings
from typing import Optional

from nnzoo import comparison, registry
from nnzoo.protocols import Protocol
from nnzoo.recipe import Recipe
from nnzoo.registry import BookResult  # noqa: F401  (the type of Experiment.book)

__all__ = ["Experiment", "BookNumber", "BookResult", "Recipe", "EXPERIMENTS", "get", "ids", "chapter", "for_weights",
           "protocol", "book_for"]


def _number(accuracy, split, report="peak", source="", values=None):
    """A row's book number (``nnzoo.registry.BookResult``); the row fills in its id and runs."""
    return registry.BookResult(accuracy, split, source=source, report=report, values=values)


def BookNumber(accuracy, split, report="peak", source="", values=None):  # noqa: N802  (the old class's name)
    """Deprecated: a book number is an ``nnzoo.registry.BookResult`` (``nnzoo.BookResult``)."""
    warnings.warn("nnzoo.experiments.BookNumber is deprecated; use nnzoo.BookResult(accuracy, split, "
                  "report=..., source=..., values=...).", DeprecationWarning, stacklevel=2)
    return _number(accuracy, split, report, source, values)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One row of the book's experiments: a ``Recipe``, and what the book says of it.

    Attributes:
        id: the catalog id, e.g. ``"C3-09"``.
        title: what the experiment shows.
        recipe: the ``nnzoo.recipe.Recipe`` it trains (its network, changes to the card, epochs, data, the
            number of runs the book took the best of, the book's protocol, evaluation subset and monitoring);
            ``None`` for a study.
        book: the book's number (an ``nnzoo.registry.BookResult``: its chapter and section in ``source``),
            or ``None`` when the book gives none.
        note: what a reader should know when comparing.
        seed_offset: added to the seed, for a row that is a second run of
            another row's recipe.
        kind: ``"train"`` (one network's recipe, trained by ``nnzoo.train``),
            or a study run by ``nnzoo.studies``: ``"baseline"`` (chapter 1's
            non-neural classifiers), ``"size_curve"`` (C3-14),
            ``"learning_speed"`` (C5-05, C5-06).
        network: the network a study trains (``None`` for none); a training's is ``recipe.network``.

    ``model``, ``overrides``, ``epochs``, ``data``, ``runs``, ``n_validation`` and ``monitor`` read the recipe's.
    """

    id: str
    title: str
    recipe: Optional[Recipe] = None
    book: Optional[registry.BookResult] = None
    note: str = ""
    seed_offset: int = 0
    kind: str = "train"
    network: Optional[str] = None

    def __post_init__(self):
        if (self.kind == "train") != isinstance(self.recipe, Recipe):
            raise ValueError(f"Experiment {self.id}: a training (kind='train') holds an nnzoo.recipe.Recipe and a "
                             f"study none. Received: kind={self.kind!r}, recipe={self.recipe!r}.")
        if self.book is not None and not self.book.experiment:  # the table's numbers name their row
            object.__setattr__(self, "book", dataclasses.replace(self.book, experiment=self.id, runs=self.runs))

    @property
    def chapter(self):
        return int(self.id[1])

    @property
    def model(self):
        """The registry name it trains (``None`` for a study of several networks or none)."""
        return self.recipe.network if self.recipe else self.network

    overrides = property(lambda self: self.recipe.overrides if self.recipe else types.MappingProxyType({}))
    epochs = property(lambda self: self.recipe.epochs if self.recipe else None)
    data = property(lambda self: self.recipe.data if self.recipe else None)
    runs = property(lambda self: self.recipe.runs if self.recipe else 1)
    n_validation = property(lambda self: self.recipe.n_validation if self.recipe else None)
    monitor = property(lambda self: self.recipe.monitor if self.recipe else False)

    def settings(self):
        """The card's recipe with this experiment's changes, epochs and data."""
        if self.recipe is None:
            raise ValueError(f"{self.id} ({self.title}) is a {self.kind.replace('_', ' ')} study, not one network's "
                             f"training recipe: run it with nnzoo reproduce {self.id}.")
        return self.recipe.settings()


def _row(id, title, model, overrides=None, *, book=None, note="", seed_offset=0, kind="train",  # noqa: A002
         **recipe_fields):
    """A table row: the Recipe of ``model`` with ``overrides`` and ``recipe_fields`` (epochs, data, runs,
    n_validation, monitor) under the book's protocol for ``book``; a study (``kind``) holds none."""
    if kind != "train":
        return Experiment(id, title, book=book, note=note, seed_offset=seed_offset, kind=kind, network=model)
    rule = Protocol.for_book(registry.card(model).book_code, book, split="validation")
    return Experiment(id, title, Recipe(model, overrides or {}, protocol=rule, **recipe_fields), book=book, note=note,
                      seed_offset=seed_offset)


def _canonical(model, title, note="", variant="", **recipe_fields):
    """The experiment a card's own recipe and number describe.

    ``variant`` tells apart two networks the book reports under one experiment
    (C6-08's FC 300 and FC 1000): the id becomes e.g. ``C6-08-fc300``.
    """
    result = registry.card(model).book_result
    return _row(result.experiment + (f"-{variant}" if variant else ""), title, model, runs=result.runs, book=result,
                note=note, **recipe_fields)


_CH1_NOTE = "The book took the best of three runs."
_CH1_BASELINES = "Chapter 1, “Implementing our network to classify digits”"
_CH5_SPEED = "Chapter 5, “The vanishing gradient problem”"
_CH6_NOTE = "The book took the best of three runs; test accuracy at the best validation epoch."

EXPERIMENTS = (
    _canonical("shallow_sigmoid", "[784,30,10], quadratic cost, η = 3.0", note=_CH1_NOTE),
    _canonical("shallow_sigmoid_100", "[784,100,10], quadratic cost, η = 3.0", note=_CH1_NOTE),
    _row("C1-03", "η too small (0.001)", "shallow_sigmoid_100", {"eta": 0.001},
               book=_number(21.42, "test", "final", "Chapter 1, “Implementing our network to classify digits”"),
               note="The book prints one run's per-epoch counts; 2142/10000 after epoch 29."),
    _row("C1-04", "η too large (100)", "shallow_sigmoid", {"eta": 100.0},
               book=_number(9.82, "test", "final", "Chapter 1, “Implementing our network to classify digits”"),
               note="The book prints one run's per-epoch counts; 982/10000 after epoch 29."),
    _row("C1-05", "random guess", None, kind="baseline", book=_number(10.0, "test", source=_CH1_BASELINES),
               note="The book: right “about ten percent of the time”."),
    _row("C1-06", "average darkness", None, kind="baseline",
               book=_number(22.25, "test", source=_CH1_BASELINES)),
    _row("C1-07", "SVM, scikit-learn's defaults of the book's day (SVC(gamma='auto'))", None, kind="baseline",
               book=_number(94.35, "test", source=_CH1_BASELINES),
               note="Needs scikit-learn. The book used the defaults of its day; scikit-learn 0.22 (2019) changed the "
                    "default gamma from 'auto' (1/784) to 'scale', which is also measured (SVC())."),
    _row("C3-05", "cross-entropy, 30 hidden, no regularization", "network2", {"lmbda": 0.0},
               book=_number(95.49, "test", "peak", "Chapter 3, “Using the cross-entropy to classify MNIST digits”")),
    _row("C3-06", "cross-entropy, 100 hidden, no regularization", "network2",
               {"lmbda": 0.0, "hidden": (100,)}, book=_number(96.82, "test", "peak", "Chapter 3, “Using the cross-entropy to classify MNIST digits”")),
    _row("C3-07", "overfitting: 1,000 training images, 400 epochs", "network2", {"lmbda": 0.0},
               epochs=400, data="mnist[:1000]", book=_number(82.27, "test", "peak", "Chapter 3, “Overfitting and regularization”"),
               monitor=True),
    _row("C3-08", "the same unregularized net again (train/test gap)", "network2", {"lmbda": 0.0},
               book=_number(95.33, "test", "peak", "Chapter 3, “Overfitting and regularization”"), monitor=True, seed_offset=1,
               note="A second run of C3-05's recipe; the book quotes 95.33 here and 95.49 there."),
    _row("C3-09", "L2 λ = 0.1 on 1,000 images, 400 epochs", "network2", {"lmbda": 0.1},
               epochs=400, data="mnist[:1000]", book=_number(87.1, "test", "peak", "Chapter 3, “Regularization”"),
               monitor=True),
    _canonical("network2", "L2 λ = 5.0 on 50,000 images", monitor=True),
    _row("C3-11", "L2, 100 hidden (η = 0.5)", "network2", {"hidden": (100,)},
               book=_number(97.92, "validation", "peak", "Chapter 3, “Regularization”")),
    _canonical("network2_100", "L2, 100 hidden, η = 0.1, 60 epochs: the 98% run"),
    _row("C3-13", "5,000 training images (λ and epochs scaled)", "network2", {"lmbda": 0.5},
               epochs=300, data="mnist[:5000]", book=_number(93.24, "validation", "peak", "Chapter 3, “An aside on big data and what it means to compare classification accuracies”"),
               note="The book scales λ down and epochs up with the set size; which split it scored is "
                    "not stated (validation assumed)."),
    _row("C3-14", "accuracy against training-set size: network and SVM", "network2", kind="size_curve",
               book=_number(94.48, "validation", source="Chapter 3, “An aside on big data and what it means to "
                                                           "compare classification accuracies”"),
               note="The book's number is the SVM's at 50,000 images; its network point, 93.24% at 5,000 images, "
                    "is C3-13. Each net and SVM is scored once, at the end, on the 10,000 validation images."),
    _row("C3-15-large", "old initialisation N(0,1), 30 hidden, η = 0.1", "network2",
               {"init": "large", "eta": 0.1}, note="Book: under 87% after the first epoch, "
               "'somewhat over 96 percent' at the end (validation)."),
    _row("C3-15-default", "new initialisation N(0,1/√n_in), 30 hidden, η = 0.1", "network2",
               {"init": "default", "eta": 0.1}, note="Book: almost 93% after the first epoch, "
               "'somewhat over 96 percent' at the end (validation)."),
    *(_row(f"C3-22-eta{eta:g}", f"learning rate η = {eta:g} (training cost)", "network2",
                 {"eta": eta, "init": "default"}, monitor=True,
                 note="The book plots the training cost only (P25); no accuracy is reported. Initialisation: "
                      "network2's default N(0, 1/√n_in), since the book's figure script builds "
                      "network2.Network([784, 30, 10]) and does not call large_weight_initializer().")
      for eta in (0.025, 0.25, 2.5)),
    *(_row(f"C3-16-{init}", f"{label} initialisation, 100 hidden, η = 0.1", "network2",
                 {"init": init, "eta": 0.1, "hidden": (100,)},
                 note="Book: the two curves don't quite meet in 30 epochs, and become almost the same "
                      "a few epochs later (validation).")
      for init, label in (("large", "old N(0,1)"), ("default", "new N(0,1/√n_in)"))),
    _row("C3-17", "bad hyper-parameters: η = 10, λ = 1000", "network2",
               {"init": "default", "eta": 10.0, "lmbda": 1000.0},
               book=_number(9.67, "validation", "final", "Chapter 3, “How to choose a neural network's hyper-parameters?”"),
               note="The book prints 967/10000 after epoch 29: no better than chance."),
    _row("C3-18", "[784,10] on 1,000 images: η = 10, λ = 1000", "no_hidden_sigmoid",
               {"eta": 10.0, "lmbda": 1000.0}, n_validation=100,
               book=_number(10.0, "validation", "first", "Chapter 3, “How to choose a neural network's hyper-parameters?”")),
    _row("C3-19", "[784,10]: λ rescaled to 20", "no_hidden_sigmoid", {"eta": 10.0, "lmbda": 20.0},
               n_validation=100, book=_number(12.0, "validation", "first", "Chapter 3, “How to choose a neural network's hyper-parameters?”")),
    _row("C3-20", "[784,10]: η up to 100", "no_hidden_sigmoid", {"eta": 100.0, "lmbda": 20.0},
               n_validation=100, book=_number(10.0, "validation", "first", "Chapter 3, “How to choose a neural network's hyper-parameters?”")),
    _row("C3-21", "[784,10]: η down to 1", "no_hidden_sigmoid", {"eta": 1.0, "lmbda": 20.0},
               n_validation=100, book=_number(62.0, "validation", "first", "Chapter 3, “How to choose a neural network's hyper-parameters?”"),
               note="Scored on the first 100 validation images, as the book does."),
    *(_canonical(f"deep_sigmoid_{k}", f"{k} hidden layer(s) of 30") for k in (1, 2, 3, 4)),
    _row("C5-05", "speed of learning ‖∂C/∂bˡ‖ of each hidden layer at initialisation", None,
               kind="learning_speed",
               book=_number(None, "training", source=_CH5_SPEED, values={
                   "deep_sigmoid_2": (0.07, 0.31), "deep_sigmoid_3": (0.012, 0.060, 0.283),
                   "deep_sigmoid_4": (0.003, 0.017, 0.070, 0.285)}),
               note="On the first 1,000 training images, in inference mode; the book does not say which images "
                    "or initialisation it used (network2's default N(0, 1/√n_in) here)."),
    _row("C5-06", "speed of learning over 500 epochs of full-batch gradient descent", None,
               kind="learning_speed",
               book=_number(None, "training", source=_CH5_SPEED,
                               values={"first/last hidden layer speed, 4 hidden layers": 100}),
               note="1,000 training images, η = 0.1 (the book gives none). The book: the first of four hidden "
                    "layers learns “roughly 100 times” slower than the last; figures P30–P32."),
    _canonical("shallow_softmax", "fully-connected baseline, softmax + log-likelihood",
               note=_CH6_NOTE),
    _canonical("conv1", "one conv-pool layer", note=_CH6_NOTE),
    _row("C6-03", "conv1 without the fully-connected layer (exercise)", "conv1_nofc", runs=3),
    _canonical("conv2", "two conv-pool layers", note=_CH6_NOTE),
    _row("C6-05", "conv2 with tanh (problem)", "conv2_tanh", runs=3,
               note="Book: tanh trains a little faster, final accuracy very similar to sigmoid."),
    _canonical("conv2_relu", "ReLU, L2 λ = 0.1, η = 0.03", note=_CH6_NOTE),
    _row("C6-07", "ReLU on the expanded data", "conv2_relu", data="expanded",
               runs=3, book=_number(99.37, "test", "peak", "Chapter 6, “Convolutional neural networks in practice”"), note=_CH6_NOTE),
    _canonical("conv2_relu_fc300", "FC 300, expanded data", note=_CH6_NOTE, variant="fc300"),
    _canonical("conv2_relu_fc1000", "FC 1000, expanded data", note=_CH6_NOTE, variant="fc1000"),
    _canonical("conv2_relu_2fc", "two FC layers of 100, expanded data", note=_CH6_NOTE),
    _canonical("conv2_relu_2fc300", "two FC layers of 300, expanded data", note=_CH6_NOTE, variant="2fc300"),
    _canonical("conv2_relu_2fc1000", "two FC layers of 1,000, expanded data", note=_CH6_NOTE, variant="2fc1000"),
    _canonical("conv2_dropout", "dropout on two FC layers of 1,000, expanded data, 40 epochs",
               note=_CH6_NOTE),
    _canonical("conv2_dropout_ensemble", "plurality vote of 5 conv2_dropout nets",
               note="Member k has the seed of C6-11's run k, and the same recipe: members 1-3 are C6-11's three runs "
                    "(trained once; their run directories serve as member-1 to member-3)."),
    _canonical("deep_fc_ciresan", "beyond the book: Cireşan et al.'s 5-hidden-layer MLP, η 1e-3 → 1e-6",
               note="Cited by the book, not run by it; Cireşan et al. used elastic deformations and "
                    "online SGD on a GPU. Hours on a GPU at mini-batch 1."),
)

_BY_ID = {experiment.id: experiment for experiment in EXPERIMENTS}
assert len(_BY_ID) == len(EXPERIMENTS), "experiment ids must be unique"


def ids():
    """Every experiment id, in the book's order."""
    return [experiment.id for experiment in EXPERIMENTS]


def get(experiment_id):
    """The experiment with this id; a ValueError lists the ids."""
    try:
        return _BY_ID[experiment_id]
    except KeyError:
        raise ValueError(
            f"Unknown experiment. Received: {experiment_id!r}. Expected one of {sorted(_BY_ID)}."
        ) from None


def for_weights(name):
    """The experiment whose recipe is ``name``'s card recipe: where its shipped weights come from.

    >>> for_weights("network2_100").id
    'C3-12'
    """
    card = registry.card(name)
    for experiment in EXPERIMENTS:
        if experiment.kind == "train" and experiment.model == name and experiment.settings() == dict(card.recipe):
            return experiment
    raise ValueError(f"No book experiment trains {name!r} by its card's recipe.")


def describe(experiment):
    """A JSON-friendly dict of an experiment: its row, the recipe it trains and the book's number."""
    row = {key: getattr(experiment, key) for key in (
        "id", "title", "model", "epochs", "data", "runs", "n_validation", "note", "monitor", "seed_offset", "kind")}
    return {**row, "overrides": dict(experiment.overrides), "book": book_dict(experiment),
            "recipe": experiment.settings() if experiment.recipe else None, "chapter": experiment.chapter,
            "book_url": registry.book_url(experiment.chapter)}


_RECORD_BOOK_KEYS = ("accuracy", "split", "report", "source", "values")


def book_dict(experiment):
    """The book's number of an experiment as ``experiment.json`` holds it (``None`` when the book gives none)."""
    if experiment.book is None:
        return None
    book = experiment.book.to_dict()
    return {key: book[key] for key in _RECORD_BOOK_KEYS if key in book}


def chapter(number):
    """The experiments of one chapter, in the book's order."""
    return [experiment for experiment in EXPERIMENTS if experiment.chapter == number]


def protocol(experiment):
    """The book's protocol for an experiment (``experiment.recipe.protocol``): network3's rule in chapter 6,
    else the epoch the book quotes (peak, first or final) on the split it used. ``None`` for a study
    (``nnzoo.studies``)."""
    return experiment.recipe.protocol if experiment.recipe else None


def book_for(recipe, experiment=None):
    """The book's number a run of ``recipe`` stands beside, and the keys in which its recipe differs.

    Args:
        recipe: the ``nnzoo.recipe.Recipe`` the run trains (its network, changes, epochs, data, runs,
            protocol and evaluation subset).
        experiment: the book experiment to compare with (an ``Experiment`` or its id); default: the
            experiment that trains the same network and architecture with the fewest differences.

    Returns:
        A ``nnzoo.comparison.BookComparison``: ``.text()`` is e.g. ``"99.06% test (C6-04; this run
        differs: epochs 1 vs 60, ...)"``; false (``no number in the book``) when the book reports no
        accuracy for it, or when no book experiment trains this architecture.

    >>> print(book_for(Recipe("conv2", epochs=1)).differences_text())
    epochs 1 vs 60, runs 1 vs 3
    """
    if experiment is None:
        return comparison.closest(recipe, EXPERIMENTS)
    return comparison.against(recipe, get(experiment) if isinstance(experiment, str) else experiment)


# Moved to nnzoo.runner (the table apart from what runs it). Not forwarded: runner imports this table, and a
# forward would import runner back (tests/test_import_graph.py); nnzoo.train, the public name, is unchanged.
_MOVED_TO_RUNNER = ("train", "run", "make_record", "reduced_suffix", "main", "DEFAULT_OUT")


def __getattr__(name):
    if name in _MOVED_TO_RUNNER:
        raise AttributeError(f"nnzoo.experiments.{name} moved to nnzoo.runner.{name} (this module is the table of "
                             f"the book's experiments; nnzoo.runner runs them). nnzoo.train is unchanged.")
    raise AttributeError(f"module 'nnzoo.experiments' has no attribute {name!r}")
