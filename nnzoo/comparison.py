"""Which number of the book a run can stand beside, and how the run's recipe differs from the book's.

One function decides it for ``nnzoo.train`` (a network name, a ``Recipe`` or an experiment id), the
``nnzoo train`` command and the main job: ``nnzoo.experiments.book_for(recipe)``, which hands this
module the book's experiments. A run is set beside the book experiment that trains the same network
with the same architecture (hidden layers, convolutions, activation, ...) and whose recipe differs
least from it; every key that still differs (epochs, data, runs, η, the reported split ...) is named
next to the book's number. A run whose architecture no book experiment trains has no number in the
book: ``nnzoo train network2 --set hidden=[100]`` is set beside C3-11's [784, 100, 10] number (saying
that the book reports its validation accuracy), never C3-10's [784, 30, 10] one.

>>> from nnzoo.experiments import book_for
>>> from nnzoo.recipe import Recipe
>>> print(book_for(Recipe("conv2", epochs=1, data="mnist[:2000]")).text())
99.06% test (C6-04; this run differs: epochs 1 vs 60, data mnist[:2000] vs mnist, runs 1 vs 3)
>>> print(book_for(Recipe("network2", {"hidden": (100,)}, epochs=5)).text())
97.92% validation (C3-11; this run differs: epochs 5 vs 30, protocol peak_test vs peak_validation)
"""

from typing import NamedTuple, Optional

from nnzoo.recipe import Recipe

__all__ = ["BookComparison", "NO_NUMBER", "closest", "against"]

# Listed first when they differ; then the recipe's other keys in alphabetical order.
_FIRST = ("epochs", "data", "runs", "n_validation", "protocol")


class BookComparison(NamedTuple):
    """The book's number for a run, and how the run's recipe differs from the book's.

    Its first three items are what ``nnzoo.training.train``'s ``book=`` takes: the accuracy in percent,
    the split and a label (the experiment id, and the differences when there are any). It is false
    when the book gives no number for the run's recipe.

    Attributes:
        accuracy: the book's accuracy in percent, or ``None``.
        split: ``"test"`` or ``"validation"``.
        label: ``"C6-04; this run differs: epochs 1 vs 60, ..."`` (the id alone when nothing differs).
        experiment: the book experiment's id.
        differences: ``(key, this run's value, the book's value)`` for each key that differs.
    """

    accuracy: Optional[float]
    split: Optional[str]
    label: Optional[str]
    experiment: Optional[str]
    differences: tuple = ()

    def __bool__(self):
        return self.accuracy is not None

    @property
    def matches(self):
        """Whether the run's recipe is the book's: the numbers compare like for like."""
        return bool(self) and not self.differences

    def text(self):
        """``99.06% test (C6-04; this run differs: epochs 1 vs 60)``, or ``no number in the book``."""
        return f"{self.accuracy:.2f}% {self.split} ({self.label})" if self else "no number in the book"

    def differences_text(self):
        """``epochs 1 vs 60, data mnist[:2000] vs mnist`` (this run's value first); '' when none."""
        return ", ".join(f"{key} {_show(ours)} vs {_show(theirs)}" for key, ours, theirs in self.differences)


NO_NUMBER = BookComparison(None, None, None, None, ())


def _show(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "–" if value is None else str(value)


def _normal(value):
    """Lists and tuples alike (``--set hidden=[100]`` and ``hidden=(100,)``), numbers as floats where whole."""
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


def _settings(recipe):
    """Everything that decides a run's number: the card's architecture and recipe with the changes, runs,
    the evaluation subset and the reporting rule."""
    card = recipe.card
    architecture = {key: recipe.overrides.get(key, value) for key, value in card.architecture.items()}
    return {**architecture, **recipe.settings(), "runs": recipe.runs, "n_validation": recipe.n_validation,
            "protocol": recipe.protocol.rule}


def _differences(ours, theirs):
    keys = [k for k in _FIRST if k in ours or k in theirs]
    keys += sorted((set(ours) | set(theirs)) - set(_FIRST))
    return tuple((key, ours.get(key), theirs.get(key)) for key in keys
                 if _normal(ours.get(key)) != _normal(theirs.get(key)))


def _has_number(experiment):
    return experiment.kind == "train" and experiment.book is not None and experiment.book.accuracy is not None


def _comparison(experiment, differences):
    label = f"{experiment.id}; this run differs: " if differences else experiment.id
    compared = BookComparison(experiment.book.accuracy, experiment.book.split, label, experiment.id, differences)
    return compared._replace(label=label + compared.differences_text()) if differences else compared


def _checked(recipe):
    if not isinstance(recipe, Recipe):
        raise ValueError(f"A book comparison takes an nnzoo.recipe.Recipe. Received: {recipe!r}. Make one with "
                         f"Recipe(name, overrides, epochs=..., data=..., runs=...).")
    return _settings(recipe)


def closest(recipe, experiments):
    """The book's number among ``experiments`` that a run of ``recipe`` stands beside: the experiment that
    trains the same network and architecture with the fewest differences in training (then in all, then
    the earliest), or ``NO_NUMBER`` when none has a number."""
    ours = _checked(recipe)
    found = []
    for experiment in experiments:
        if experiment.model != recipe.network or not _has_number(experiment):
            continue
        theirs = _settings(experiment.recipe)
        if all(_normal(ours.get(key)) == _normal(theirs.get(key)) for key in recipe.card.architecture):
            found.append((len(found), experiment, _differences(ours, theirs)))
    if not found:
        return NO_NUMBER
    # The fewest differences in training first (a different reported split is named, and weighs less), then
    # the fewest in all, then book order.
    _, experiment, differences = min(found, key=lambda entry: (
        sum(key != "protocol" for key, _, _ in entry[2]), len(entry[2]), entry[0]))
    return _comparison(experiment, differences)


def against(recipe, experiment):
    """A run of ``recipe`` beside one given book experiment's number, naming every key that differs
    (the architecture too); ``NO_NUMBER`` when the book gives that experiment none."""
    ours = _checked(recipe)
    if not _has_number(experiment):
        return NO_NUMBER
    return _comparison(experiment, _differences(ours, _settings(experiment.recipe)))
