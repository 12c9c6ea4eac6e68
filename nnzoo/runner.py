"""Running the book's experiments: ``nnzoo.train`` and the records of ``nnzoo.experiments``' rows.

``train`` (``nnzoo.train``) turns a network name, a ``Recipe`` or an experiment id
into a Recipe and trains it (``nnzoo.training.train``); ``run`` trains one row of
the table and writes its ``experiment.json`` (measured beside the book, seeds,
hardware, wall time and the command that reproduces it); ``main`` is the chapter
recipes' command line.

Example:

>>> from nnzoo import runner
>>> runner.reduced_suffix(subset=500, epochs=1)
'-subset500-epochs1'
>>> runner.run("C1-01", epochs=1)  # doctest: +SKIP
"""

import sys
from pathlib import Path

from nnzoo import comparison, data, records, registry
from nnzoo.experiments import Experiment, book_dict, book_for, chapter, get, protocol
from nnzoo.experiments import _BY_ID  # noqa: PLC2701  (the table's index, shared with its runner)

__all__ = ["DEFAULT_OUT", "train", "run", "make_record", "reduced_suffix", "main"]

DEFAULT_OUT = Path("runs") / "experiments"


def train(target, *, seed=0, out=None, epochs=None, data=None, runs=None, n_validation=None, monitor=None,
          protocol=None, book=None, **kwargs):
    """``nnzoo.train``: train a registered network, a ``Recipe``, or one of the book's experiments by its id.

    A network name trains the card's recipe (``nnzoo.training.train``). A
    ``nnzoo.recipe.Recipe`` trains its network with its changes, epochs, data,
    runs and protocol. An experiment id (``nnzoo.experiments.ids()``, e.g.
    ``"C3-11"``) trains that experiment's recipe and selects and prints by the
    experiment's own protocol and book number (``runs`` stays 1 unless given:
    ``nnzoo.runner.run`` and ``nnzoo reproduce`` take the book's number of
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
