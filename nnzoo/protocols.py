"""The book's protocols: the order a run trains in, the epoch it reports, and the best of k runs.

Example:

>>> Protocol(shuffle=True, rule="peak_validation").describe()
'peak validation accuracy over the epochs; reshuffled every epoch'
"""

import dataclasses

import numpy as np

__all__ = ["Protocol", "RULES", "VOTE", "best_validation_test", "peak"]


def best_validation_test(history):
    """network3's rule: (epoch, validation, test) at the best validation epoch.

    An epoch counts as best when its validation accuracy is at least the best
    so far, so ties go to the later epoch.

    >>> best_validation_test([{"validation_accuracy": .9, "test_accuracy": .8},
    ...                       {"validation_accuracy": .9, "test_accuracy": .7}])
    (1, 0.9, 0.7)
    """
    best = None
    for epoch, entry in enumerate(history):
        if best is None or entry["validation_accuracy"] >= history[best]["validation_accuracy"]:
            best = epoch
    return best, history[best]["validation_accuracy"], history[best]["test_accuracy"]


def peak(history, key):
    """(epoch, value) of the highest ``key`` over the epochs; ties go to the earlier epoch."""
    values = [entry[key] for entry in history]
    epoch = int(np.argmax(values))
    return epoch, values[epoch]


_REPORTS = {"peak": "peak {split} accuracy over the epochs", "first": "{split} accuracy after the first epoch",
            "final": "{split} accuracy after the last epoch"}
RULES = ("best_validation_test", *(f"{report}_{split}" for report in _REPORTS for split in ("test", "validation")))
# An ensemble's number (nnzoo.layers.vote): one description of it, for cards, results and records.
VOTE = "plurality vote of {members} independently trained members on the test set (ties: larger mean probability, " \
       "then lower digit); each member: {member}"


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How the book picked the number it reports for a run, and the order it trained in.

    Attributes:
        shuffle: reshuffle the training set every epoch (network.py and
            network2.py) or keep a fixed order (network3.py).
        rule: ``"best_validation_test"`` (network3: the test accuracy at the
            epoch of best validation accuracy, ties to the later epoch), or
            ``"{report}_{split}"`` with report ``peak`` (ties to the earlier
            epoch), ``first`` or ``final`` and split ``test`` or
            ``validation`` (the book printed a per-epoch transcript and quotes
            one epoch of it).

    Best of k runs: the run with the highest ``selection_key``.
    """

    shuffle: bool
    rule: str

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"Unknown protocol rule. Received: rule={self.rule!r}. Expected one of {list(RULES)}.")

    @classmethod
    def for_card(cls, model_card):
        """The protocol of a card's own recipe (its book program and the split of its book number)."""
        return cls.for_book(model_card.book_code, model_card.book_result)

    @classmethod
    def for_book(cls, book_code, book=None, split="test"):
        """The protocol of a run of the book program ``book_code`` that stands for the number ``book`` (an
        ``nnzoo.registry.BookResult``): network3's rule, else the epoch the book quotes (``book.report``) on its
        split (``split`` when there is no number)."""
        if book_code == "network3.py":
            return cls(shuffle=False, rule="best_validation_test")
        split, report = (book.split, book.report) if book else (split, "peak")
        return cls(shuffle=True, rule=f"{report}_{split}")

    @property
    def split(self):
        """The split the reported number is measured on."""
        return "test" if self.rule == "best_validation_test" else self.rule.split("_", 1)[1]

    @property
    def report(self):
        """``"peak"``, ``"first"`` or ``"final"`` (``"peak"`` for network3's rule)."""
        return "peak" if self.rule == "best_validation_test" else self.rule.split("_", 1)[0]

    def describe(self, runs=1, members=None):
        """The protocol in words; ``runs``: the best of that many runs; ``members``: an ensemble of that many,
        each trained by this protocol, voting (``VOTE``).

        >>> Protocol(shuffle=False, rule="best_validation_test").describe(runs=3)
        'test accuracy at the best validation epoch (ties to the later); fixed training order; best of 3 runs'
        """
        order = "reshuffled every epoch" if self.shuffle else "fixed training order"
        if self.rule == "best_validation_test":
            text = f"test accuracy at the best validation epoch (ties to the later); {order}"
        else:
            text = f"{_REPORTS[self.report].format(split=self.split)}; {order}"
        text += f"; best of {runs} runs" if runs > 1 else ""
        return VOTE.format(members=members, member=text) if members else text

    def select(self, history):
        """(best_epoch, validation, test, reported) of one run's history."""
        if self.rule == "best_validation_test":
            epoch, validation, test = best_validation_test(history)
            return epoch, validation, test, test
        key = f"{self.split}_accuracy"
        if self.report == "peak":
            epoch, value = peak(history, key)
        else:
            epoch = 0 if self.report == "first" else len(history) - 1
            value = history[epoch][key]
        return epoch, history[epoch]["validation_accuracy"], history[epoch]["test_accuracy"], value

    def selection_key(self, run):
        """What 'best of k runs' maximises."""
        return run.validation_accuracy if self.rule == "best_validation_test" else run.reported
