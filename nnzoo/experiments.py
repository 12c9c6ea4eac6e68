"""The book's experiments: one table, each row a registered network plus changes.

A canonical experiment is the recipe on a model card (its number lives on the
card); the other rows change the card's recipe and carry the number the book
reports for them. ``run`` trains an experiment with ``nnzoo.train`` and writes
``experiment.json`` (measured beside the book, seeds, hardware, wall time and
the command that reproduces it) into its run directory.

Example:

>>> from nnzoo import experiments
>>> [e.id for e in experiments.chapter(1)]
['C1-01', 'C1-02', 'C1-03', 'C1-04', 'C1-05', 'C1-06', 'C1-07']
>>> experiments.get("C3-11").recipe.overrides["hidden"], experiments.get("C3-11").book.text()
((100,), '97.92% validation (C3-11)')
>>> experiments.run("C1-01", epochs=1)  # doctest: +SKIP
"""

import dataclasses
import sys
import types
import warnings
from pathlib import Path
from typing import Optional

from nnzoo import comparison, data, records, registry
from nnzoo.protocols import Protocol
from nnzoo.recipe import Recipe
from nnzoo.registry import BookResult  # noqa: F401  (the type of Experiment.book)

__all__ = ["Experiment", "BookNumber", "BookResult", "Recipe", "EXPERIMENTS", "get", "ids", "chapter", "for_weights", "protocol", "book_for", "train", "run"]

DEFAULT_OUT = Path("runs") / "experiments"


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


def train(target, *, seed=0, out=None, epochs=None, data=None, runs=None, n_validation=None, monitor=None,
          protocol=None, book=None, **kwargs):
    """``nnzoo.train``: train a registered network, a ``Recipe``, or one of the book's experiments by its id.

    A network name trains the card's recipe (``nnzoo.training.train``). A
    ``nnzoo.recipe.Recipe`` trains its network with its changes, epochs, data,
    runs and protocol. An experiment id (``nnzoo.experiments.ids()``, e.g.
    ``"C3-11"``) trains that experiment's recipe and selects and prints by the
    experiment's own protocol and book number (``runs`` stays 1 unless given:
    ``nnzoo.experiments.run`` and ``nnzoo reproduce`` take the book's number of
    runs). Arguments given here override the recipe's; see
    ``nnzoo.training.train`` for them.

    >>> nnzoo.train("C3-11")  # 100 hidden, η 0.5: the peak validation accuracy, beside the book's 97.92%  # doctest: +SKIP
    >>> nnzoo.train(Recipe("conv2", epochs=5, data="mnist[:5000]"))  # doctest: +SKIP
    """
    from nnzoo import training  # noqa: PLC0415  (the table itself needs no Keras)

    if isinstance(target, Experiment):
        target = target.id
    experiment, recipe = (_BY_ID.get(target) if isinstance(target, str) else None), target
    if experiment is not None:
        experiment.settings()  # a study has no recipe: it says to run it with nnzoo reproduce
        out = out or Path("runs") / f"{target}-seed{seed}"
        seed += experiment.seed_offset
        recipe = experiment.recipe.replace(runs=1)
    how = {key: kwargs.pop(key) for key in list(kwargs) if key in _TRAIN_OPTIONS}  # the rest: model overrides
    recipe = training.as_recipe(recipe, kwargs, epochs=epochs, data=data, runs=runs, n_validation=n_validation,
                                monitor=monitor, protocol=protocol)
    comparison = book if book is not None else book_for(recipe, experiment)
    result = training.train(recipe, seed=seed, out=out, book=comparison, **how)
    result.book = comparison
    return result


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


# How to run a training, beside its Recipe (the Recipe's own keys: nnzoo.options).
_TRAIN_OPTIONS = ("verbose", "n_test", "announce", "callbacks", "processes")


def run(experiment_id, *, runs=None, epochs=None, seed=0, out=None, verbose=1, command=None, subset=None,
        processes=1):
    """Train one experiment; write and return its ``experiment.json`` record.

    Args:
        experiment_id: an id from ``EXPERIMENTS``.
        runs: independent runs (default: the book's); fewer is a reduced
            budget and is recorded as such.
        epochs: override the book's epochs (recorded as a reduced budget).
        seed: the first run's seed.
        out: the run directory (default ``runs/experiments/ID``).
        subset: train on the first ``subset`` training images and score on
            the first ``subset`` validation and test images (a smoke test;
            recorded as a reduced budget).
        processes: train the runs in this many processes at once
            (``nnzoo.train``'s ``processes``).
    """
    from nnzoo import training  # noqa: PLC0415  (the table itself needs no Keras)

    experiment = get(experiment_id)
    command = command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    if experiment.kind != "train":
        from nnzoo import studies  # noqa: PLC0415

        return studies.run(experiment, Path(out or DEFAULT_OUT / experiment.id), book=book_dict(experiment),
                           seed=seed, command=command,
                           epochs=epochs, subset=subset, log=print if verbose else (lambda line: None))
    runs = runs or experiment.runs
    epochs = epochs or experiment.settings()["epochs"]
    out = Path(out or DEFAULT_OUT / experiment.id)
    seed += experiment.seed_offset
    data_spec, n_validation, n_test = experiment.settings()["data"], experiment.n_validation, None
    if subset:
        data_spec, n_test = data.first_n_spec(data_spec, subset), subset
        n_validation = min(subset, n_validation or subset)
    try:
        result = training.train(
            experiment.recipe.replace(runs=runs, epochs=epochs, data=data_spec, n_validation=n_validation),
            seed=seed, out=out, verbose=verbose, n_test=n_test, announce=False, processes=processes,
            book=experiment.book or comparison.NO_NUMBER,
        )
    except training.Diverged as err:  # a refused run directory is an error, not a result: it propagates
        record = records.write(out, records.record(
            experiment, book=book_dict(experiment), measured=None, seeds=[seed], runs=runs, command=command,
            reduced_budget=f"subset of {subset} images" if subset else None,
            overrides=dict(experiment.overrides), data=data_spec, epochs=epochs, diverged=str(err),
        ))
        if verbose:
            print(f"{experiment.id} {experiment.title}: diverged: {err}", flush=True)
        return record
    best = result.runs[result.best_run]
    measured = result.reported if registry.card(experiment.model).is_ensemble else None
    record = make_record(
        experiment.id, best.history, seeds=[r.seed for r in result.runs], runs=runs, measured=measured,
        wall_time=result.wall_time, command=command,
    )
    if subset:
        record["data"] = data_spec
        record["reduced_budget"] = "; ".join(filter(None, [record["reduced_budget"], f"subset of {subset} images"]))
    records.write(out, record)
    if verbose:
        book = experiment.book
        book_text = f"{book.accuracy:.2f}% ({experiment.recipe.protocol.describe()})" if book else \
            "no number in the book"
        flag = f"  [reduced budget: {record['reduced_budget']}]" if record["reduced_budget"] else ""
        print(f"{experiment.id} {experiment.title}: measured {record['measured']['accuracy']:.2f}%, "
              f"book {book_text}{flag}", flush=True)
    return record


def make_record(experiment_id, history, *, seeds, runs, wall_time, command, measured=None,
                hardware_text=None, note=""):
    """The ``experiment.json`` record of a finished (or stopped) run's history.

    The measured number follows the book's report for the experiment: for
    chapter 6 the test accuracy at the best validation epoch; otherwise the
    peak (or first / final epoch) accuracy on the split the book used.
    ``measured`` (a fraction) overrides it, e.g. with an ensemble's vote.
    """
    experiment = get(experiment_id)
    recipe = experiment.settings()
    book = experiment.book
    ensemble = registry.card(experiment.model).is_ensemble
    rule = protocol(experiment)
    split = rule.split
    if measured is None:
        measured = rule.select(history)[3]
    reduced = []
    if len(history) < recipe["epochs"]:
        reduced.append(f"{len(history)} of {recipe['epochs']} epochs")
    if runs < experiment.runs:
        reduced.append(f"{runs} of {experiment.runs} runs")
    return records.record(
        experiment, book=book_dict(experiment), seeds=seeds, runs=runs, command=command,
        measured={"accuracy": 100 * measured, "split": split, "report": book.report if book else "peak"},
        reduced_budget="; ".join(reduced), note=" ".join(filter(None, [experiment.note, note])),
        wall_time_s=wall_time, hardware_text=hardware_text,
        overrides=dict(experiment.overrides), init=recipe["init"], data=recipe["data"], epochs=len(history),
        protocol=rule.describe(members=len(seeds) if ensemble else None), n_validation=experiment.n_validation,
        **({} if ensemble else {
            "first_epoch": {k: 100 * history[0][f"{k}_accuracy"] for k in ("validation", "test")},
            "final_epoch": {k: 100 * history[-1][f"{k}_accuracy"] for k in ("validation", "test")},
        }),
    )


def reduced_suffix(subset=None, epochs=None):
    """The run directory suffix of a reduced run (``-subset60-epochs1``), so a smoke test never blocks the full run."""
    return "".join(f"-{key}{value}" for key, value in (("subset", subset), ("epochs", epochs)) if value)


def main(chapters, description, argv=None):
    """The shared command line of the chapter recipes."""
    from nnzoo import training  # noqa: PLC0415  (the table itself needs no Keras)

    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these experiment ids")
    parser.add_argument("--runs", type=int, help="runs per experiment (default: the book's)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the book's; fewer is labelled reduced)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="parent of the run directories")
    parser.add_argument("--subset", type=int, metavar="N",
                        help="smoke test: the first N training, validation and test images only")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="also TensorFlow's start-up lines")
    args = parser.parse_args(argv)
    selected = [e for c in chapters for e in chapter(c)]
    if args.only:
        wanted = set(args.only)
        unknown = wanted - {e.id for e in selected}
        if unknown:
            parser.error(f"unknown ids {sorted(unknown)}; this recipe runs {[e.id for e in selected]}")
        selected = [e for e in selected if e.id in wanted]
    # A reduced run gets a directory of its own, so a smoke test never blocks the full run.
    suffix = reduced_suffix(args.subset, args.epochs)
    for experiment in selected:
        try:
            run(experiment.id, runs=args.runs, epochs=args.epochs, seed=args.seed,
                out=Path(args.out) / f"{experiment.id}{suffix}", verbose=0 if args.quiet else 1,
                command=" ".join(["python", *sys.argv]), subset=args.subset)
        except (training.RunDirectoryError, ValueError) as err:
            print(f"{experiment.id}: {err}", file=sys.stderr, flush=True)
            return 2
        except data.DataError as err:  # no data: the message says how to provide it, without a traceback
            print(f"{experiment.id}: {err}", file=sys.stderr, flush=True)
            return 1
    return 0
