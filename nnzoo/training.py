"""``nnzoo.train``: run a network's recipe the book's way, resumable, with a run directory.

The protocol follows the book program the card names:

* ``network.py`` / ``network2.py`` (chapters 1-5): the training set is
  reshuffled every epoch; the reported number is the peak accuracy over the
  epochs on the split the book reports (test or validation).
* ``network3.py`` (chapter 6): a fixed training order; the reported number is
  the test accuracy at the epoch of best validation accuracy, ties going to
  the later epoch.

With ``runs=k`` the run with the best selection number is reported (the book's
"best of three"). Ensembles train their members independently, then vote.

A run directory holds ``recipe.json`` (the resolved recipe), ``history.json``
(one entry per completed epoch), ``log.txt``, ``checkpoint-EPOCH.keras`` (the
last completed epoch, optimizer included), ``selected.weights.h5`` (the weights
at the epoch the protocol picks so far), and at the end ``model.keras`` and
``result.json``. Re-running the same command resumes after the last completed
epoch; the order of every epoch depends only on (seed, epoch), so a resumed run
sees the same data order as an uninterrupted one.
"""

import contextlib
import dataclasses
import math
import signal
import threading
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from nnzoo import callbacks, data, layers, options, processes as _processes, registry, rundir, seeds
from nnzoo.epoch import fit_epoch, fit_epochs_lockstep, single_threaded_ops, supported
from nnzoo.protocols import Protocol, best_validation_test, peak  # noqa: F401  (public here too)
from nnzoo.recipe import Recipe
from nnzoo.rundir import RunDir, load_model_file

__all__ = ["train", "TrainResult", "RunResult", "TrainingError", "Diverged", "RunDirectoryError", "best_validation_test", "peak"]

DEFAULT_RUNS_DIR = "runs"


class TrainingError(RuntimeError):
    """A run that cannot go on: a NaN cost, or a run directory of another recipe."""


class Diverged(TrainingError):
    """The cost became NaN or infinite: the recipe diverged (a result, not a mistake)."""


class RunDirectoryError(TrainingError):
    """The run directory cannot take this run: another recipe, more epochs, or not a run directory."""


@dataclasses.dataclass
class RunResult:
    """One training run.

    Attributes:
        seed: the run's seed.
        history: one dict per epoch: ``epoch``, ``loss``, ``accuracy``
            (Keras's running training values), ``validation_accuracy``,
            ``test_accuracy``, ``eta``, ``seconds`` (training), ``evaluation_seconds``
            (scoring, selecting and checkpointing; absent in histories before
            2026-12-01); ``lockstep`` (the number of runs) when several runs
            stepped together, ``seconds`` then being their shared epoch; and
            ``processes`` when the run trained beside others in that many
            processes at once (``train(..., processes=k)``).
        best_epoch: the epoch the protocol picks (0-based).
        validation_accuracy, test_accuracy: the values at ``best_epoch``.
        reported: the number the book's protocol reports for this run.
        wall_time: seconds of its epochs, training and evaluation (all sessions of a resumed run).
        run_dir: where the run lives.
    """

    seed: int
    history: list
    best_epoch: int
    validation_accuracy: float
    test_accuracy: float
    reported: float
    wall_time: float
    run_dir: str


@dataclasses.dataclass
class TrainResult:
    """What ``nnzoo.train`` returns: the reported run and all runs.

    ``history``, ``best_epoch``, ``validation_accuracy``, ``test_accuracy``
    and ``reported`` are those of the run the protocol picks; for an ensemble
    ``test_accuracy`` and ``reported`` are the vote's. ``book`` (set by
    ``nnzoo.train``): the book's number beside it and the keys in which this
    run's recipe differs from the book's (``nnzoo.comparison.BookComparison``).
    """

    name: str
    recipe: dict
    protocol: str
    runs: list
    best_run: int
    reported: float
    test_accuracy: float
    wall_time: float
    run_dir: str
    book: object = None

    @property
    def history(self):
        return self.runs[self.best_run].history

    @property
    def best_epoch(self):
        return self.runs[self.best_run].best_epoch

    @property
    def validation_accuracy(self):
        return self.runs[self.best_run].validation_accuracy


def load_data(spec, *, n_validation=None, n_test=None):
    """The book split for ``spec`` (``nnzoo.data.load_book_split``: loading is data's job)."""
    return data.load_book_split(spec, n_validation=n_validation, n_test=n_test)


def _accuracy(model, dataset):
    return data.accuracy(model.predict(dataset.x, batch_size=1000, verbose=0), dataset.y)


class _RunLog:
    def __init__(self, run_dir, verbose):
        self.run_dir = run_dir
        self.verbose = verbose

    def __call__(self, line):
        self.run_dir.log(line)
        if self.verbose:
            print(line, flush=True)


class _Run:
    """One training run in its run directory, advanced one epoch at a time.

    Opening it resumes after the last completed epoch (or starts over);
    ``epoch_order`` gives the next epoch's training order, ``record`` checks,
    evaluates, checkpoints and logs a trained epoch, and ``finish`` writes
    ``model.keras`` and ``result.json``.
    """

    def __init__(self, name, config, split, protocol, run_dir, verbose, user_callbacks=(), alongside=1):
        self.name, self.config, self.split, self.protocol = name, config, split, protocol
        self.alongside = alongside  # processes training at once, this one's included
        self.dir = directory = RunDir(run_dir).make()
        self.run_dir = run_dir = directory.path
        recipe = {"name": name, **config}
        history = directory.history()
        previous = directory.recipe() if history else None  # a directory with no completed epoch takes a new recipe
        if previous is not None:
            wanted = rundir.as_record(recipe)
            differ = sorted(k for k in set(previous) | set(wanted)
                            if k != "epochs" and previous.get(k) != wanted.get(k))
            if differ:
                changes = ", ".join(f"{k}: {previous.get(k, '(unset)')!r} there, {wanted.get(k, '(unset)')!r} now"
                                    for k in differ)
                raise RunDirectoryError(
                    f"{run_dir} holds a run of another recipe ({changes}). "
                    f"Use another out= directory, or delete it to start over."
                )
        start = len(history)
        if start > config["epochs"]:
            raise RunDirectoryError(
                f"{run_dir} already holds {start} epochs. Received: epochs={config['epochs']}. Pass "
                f"epochs >= {start} to extend it, or use another out= directory."
            )
        directory.write_json(rundir.RECIPE, recipe)
        self.log = _RunLog(directory, verbose)
        checkpoint = directory.checkpoint(start)
        self.seed = seed = config["seed"]
        if start and checkpoint.exists():
            try:
                self.model = load_model_file(checkpoint)
            except ValueError as err:
                raise RunDirectoryError(
                    f"Cannot resume {run_dir}: the checkpoint of its last completed epoch is unreadable. {err} "
                    f"(Deleting {checkpoint.name} trains this run again from epoch 0.)"
                ) from None
            self.log(f"resuming {name} (seed {seed}) after epoch {start - 1} from {checkpoint}")
        else:
            if start:
                self.log(f"no checkpoint for epoch {start - 1} in {run_dir}; starting {name} over")
                history = []
            self.model = registry.build(name, seed=seed, **options.model_settings(registry.card(name), config))
        self.history = history
        self.model.stop_training = False
        self.stopped = self.began = False
        self.callbacks = keras.callbacks.CallbackList(list(user_callbacks), model=self.model,
                                                      epochs=config["epochs"], verbose=0)
        self.monitor = None
        if config.get("monitor"):
            self.monitor = callbacks.BookMonitor(config["cost"], lmbda=config["lmbda"],
                                                 regularization=config["regularization"])
            self.monitor.set_model(self.model)

    @property
    def epoch(self):
        """The next epoch to train (0-based)."""
        return len(self.history)

    @property
    def done(self):
        return self.stopped or self.epoch >= self.config["epochs"]

    def epoch_order(self):
        """Set this epoch's η and seed; return its training order (``None``: the set as it is)."""
        config, epoch, epochs = self.config, self.epoch, self.config["epochs"]
        if not self.began:
            self.callbacks.on_train_begin()
            self.began = True
        self.callbacks.on_epoch_begin(epoch)
        if config.get("eta_final"):  # geometric decay from eta to eta_final over the run
            fraction = epoch / max(epochs - 1, 1)
            self.model.optimizer.learning_rate = config["eta"] * (config["eta_final"] / config["eta"]) ** fraction
        epoch_seed = seeds.epoch_seed(self.seed, epoch)
        keras.utils.set_random_seed(epoch_seed)
        seeds.start_random_layers(self.model, epoch_seed)  # the masks of a resumed epoch are its own
        if self.protocol.shuffle:
            return np.random.default_rng(epoch_seed).permutation(len(self.split.train.y))
        return None

    def record(self, logs, seconds, lockstep=1):
        """Check, evaluate, checkpoint and log the epoch just trained."""
        began = time.perf_counter()
        name, seed, epoch, split, run_dir = self.name, self.seed, self.epoch, self.split, self.run_dir
        loss = logs["loss"]
        if not math.isfinite(loss):
            raise Diverged(
                f"The cost of {name} became {loss} in epoch {epoch} (seed {seed}); the run stops. "
                f"Lower eta (now {self.config['eta']}) or check the inputs. "
                + (f"Epochs 0-{epoch - 1} are kept in {run_dir}." if epoch else "No epoch completed.")
            )
        model = self.model
        entry = {
            "epoch": epoch,
            "loss": loss,
            "accuracy": logs["accuracy"],
            "validation_accuracy": _accuracy(model, split.validation),
            "test_accuracy": _accuracy(model, split.test),
            "eta": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
            "seconds": seconds,
        }
        if lockstep > 1:  # seconds is the epoch of all the runs stepped together
            entry["lockstep"] = lockstep
        if self.alongside > 1:  # other processes trained other runs meanwhile
            entry["processes"] = self.alongside
        if self.monitor:  # network2's end-of-epoch full passes, its λ term scaled by each set's size
            entry.update(
                training_cost=self.monitor.total_cost(split.train),
                training_accuracy=self.monitor.accuracy(split.train) / len(split.train.y),
                test_cost=self.monitor.total_cost(split.test),
                validation_cost=self.monitor.total_cost(split.validation),
            )
        # Checkpoint, then history, then drop the old checkpoint: a kill at any
        # point leaves a history whose length names an existing checkpoint.
        if self.protocol.select([*self.history, entry])[0] == epoch:
            self._save_selected()
        self.dir.save_checkpoint(model, epoch + 1)
        entry["evaluation_seconds"] = time.perf_counter() - began
        self.history.append(entry)
        self.dir.write_json(rundir.HISTORY, self.history)
        self.dir.checkpoint(epoch).unlink(missing_ok=True)
        self.log(
            f"{name} seed {seed} epoch {epoch:3d}: loss {loss:.4f}  "
            f"validation {entry['validation_accuracy']:.2%}  test {entry['test_accuracy']:.2%}  "
            f"eta {entry['eta']:g}  {seconds:.1f} s" + (f" ({lockstep} runs in lockstep)" if lockstep > 1 else "")
            + (f" (one of {self.alongside} processes)" if self.alongside > 1 else "")
        )
        self.callbacks.on_epoch_end(epoch, _callback_logs(entry))
        if self.model.stop_training and not self.done:
            self.stopped = True
            self.log(f"{name} seed {seed}: a callback stopped the run after epoch {epoch}")

    def _save_selected(self):
        # Written before the epoch's checkpoint: a kill between the two re-trains
        # the epoch on resume and writes the same weights again.
        self.dir.save_selected(self.model)

    def finish(self):
        if self.began:
            self.callbacks.on_train_end(_callback_logs(self.history[-1]) if self.history else None)
        self.dir.save_model(self.model, self.dir.model_file)
        best_epoch, validation, test, reported = self.protocol.select(self.history)
        if best_epoch == len(self.history) - 1 and not self.dir.selected_file.exists():
            self._save_selected()
        result = RunResult(
            seed=self.seed,
            history=self.history,
            best_epoch=best_epoch,
            validation_accuracy=validation,
            test_accuracy=test,
            reported=reported,
            wall_time=float(sum(entry["seconds"] + entry.get("evaluation_seconds", 0.0) for entry in self.history)),
            run_dir=str(self.run_dir),
        )
        self.dir.write_json(rundir.RESULT, dataclasses.asdict(result))
        return result, self.model


def _callback_logs(entry):
    """What a Keras callback's ``on_epoch_end`` sees: the epoch's numbers, with Keras's ``val_`` name too."""
    logs = {key: entry[key] for key in ("loss", "accuracy", "validation_accuracy", "test_accuracy", "eta")}
    logs["val_accuracy"] = entry["validation_accuracy"]
    return logs


def _train_runs(name, configs, split, protocol, run_dirs, verbose, callbacks_for=None, processes=1,
                data_args=None, alongside=1, models=True):
    """Train several runs of one network to their epochs; return [(RunResult, model)].

    Runs at the same epoch train in lockstep (``fit_epochs_lockstep``), each
    in its own order under the chapter 1-5 protocol: each gets exactly the
    updates it would get alone. On a backend without the compiled epoch they
    train one after the other. With ``processes`` > 1 the runs with epochs
    left are dealt out round-robin to that many processes, each of which
    loads the data (``data_args``: spec, n_validation, n_test) and steps its
    share in lockstep (``split.train`` is then not read: it may be None).
    Their models are read back from the run directories only with ``models``
    (an ensemble votes with them); without it each pair's model is None.
    """
    if processes > 1:
        return _train_in_processes(name, configs, protocol, run_dirs, verbose, processes, data_args, models)
    runs = [_Run(name, config, split, protocol, run_dir, verbose, callbacks_for(index) if callbacks_for else (),
                 alongside)
            for index, (config, run_dir) in enumerate(zip(configs, run_dirs), start=1)]
    # The training set moves to the backend (the GPU, if any) once; an epoch passes only its order(s).
    x, y = (keras.ops.convert_to_tensor(values) for values in split.train)
    if len(runs) == 1 or not supported():
        for run in runs:
            while not run.done:
                order = run.epoch_order()
                started = time.perf_counter()
                logs = fit_epoch(run.model, x, y, order=order, batch_size=run.config["batch_size"],
                                 verbose=int(verbose > 1))
                run.record(logs, time.perf_counter() - started)
        return [run.finish() for run in runs]
    while not all(run.done for run in runs):
        epoch = min(run.epoch for run in runs if not run.done)
        group = [run for run in runs if run.epoch == epoch and not run.done]
        orders = [run.epoch_order() for run in group]  # network3's fixed order: None for every run
        started = time.perf_counter()
        all_logs = fit_epochs_lockstep([run.model for run in group], x, y,
                                       order=None if orders[0] is None else orders,
                                       batch_size=group[0].config["batch_size"], verbose=int(verbose > 1))
        seconds = time.perf_counter() - started
        for run, logs in zip(group, all_logs):
            run.record(logs, seconds, lockstep=len(group))
    return [run.finish() for run in runs]


def _train_in_processes(name, configs, protocol, run_dirs, verbose, processes, data_args, models):
    # Runs that hold all their epochs already (resumed, or an ensemble member copied from a finished run) are
    # not dealt out: they only finish, in the first process. So the processes training at once, which share
    # each epoch's time in the wall time, are those with epochs to train.
    pending = [i for i, (config, run_dir) in enumerate(zip(configs, run_dirs))
               if _epochs_done(run_dir) < config["epochs"]]
    processes = max(1, min(processes, len(pending)))
    groups = [pending[first::processes] for first in range(processes)]
    groups[0] = [i for i in range(len(configs)) if i not in pending] + groups[0]
    _processes.run_all([(_train_group, (name, [configs[i] for i in group], data_args, protocol,
                                        [str(run_dirs[i]) for i in group], verbose, processes))
                        for group in groups])
    finished = []
    for run in map(RunDir, run_dirs):
        result = RunResult(**run.result())
        finished.append((result, load_model_file(run.model_file) if models else None))
    return finished


def _completed(network, configs, run_dirs, *, models, verbose, out, what=None, name=None):
    """[(RunResult, model)] read back when every run already holds its recipe's epochs and result, else None.

    A finished training re-run with the same recipe trains nothing (and drives
    no callback); it says so when ``verbose``. ``models``: read the final models
    too (an ensemble votes with them).
    """
    found = []
    for config, run_dir in zip(configs, run_dirs):
        run = RunDir(run_dir)
        if not (run.result_file.is_file() and run.model_file.is_file()) or run.epochs_done() != config["epochs"]:
            return None
        if run.recipe() != rundir.as_record({"name": network, **config}):
            return None  # another recipe: opening the run says what differs
        try:
            result = RunResult(**run.result())
        except TypeError:  # a result of another shape: finishing the run again rewrites it
            return None
        found.append((result, load_model_file(run.model_file) if models else None))
    if verbose:
        what = what or ("run" if len(configs) == 1 else "runs")
        epochs = f"{configs[0]['epochs']} epoch" + ("s" if configs[0]["epochs"] != 1 else "")
        print(f"{name or network}: {out} is complete ({epochs}, {len(configs)} {what}); nothing to train.", flush=True)
    return found


def _epochs_done(run_dir):
    return RunDir(run_dir).epochs_done()  # none yet, or broken: the run itself reports it


def _train_group(name, configs, data_args, protocol, run_dirs, verbose, processes):
    """A process's share of ``train(..., processes=k)``: its runs, stepped in lockstep, on data it loads itself."""
    single_threaded_ops()
    spec, n_validation, n_test = data_args
    split = load_data(spec, n_validation=n_validation, n_test=n_test)
    _train_runs(name, configs, split, protocol, run_dirs, verbose, alongside=processes)


def as_recipe(target, overrides, **fields):
    """The ``Recipe`` ``train`` trains: ``target`` itself, or with the fields and overrides given beside it;
    a network name with them (the Recipe checks them)."""
    given = {key: value for key, value in fields.items() if value is not None}
    if isinstance(target, Recipe):
        if overrides:
            given["overrides"] = {**target.overrides, **overrides}
        return target.replace(**given) if given else target
    return Recipe(target, overrides, **given)


def train(name, *, epochs=None, runs=None, data=None, seed=0, out=None, verbose=1,
          n_validation=None, n_test=None, monitor=None, announce=True, callbacks=None, protocol=None, book=None,
          processes=1, **overrides):
    """Train a registered network with its book recipe; return a ``TrainResult``.

    Args:
        name: an ``nnzoo.recipe.Recipe``, trained as it is, or a registry name
            (see ``nnzoo.list_models()``), whose Recipe the arguments below
            make. ``nnzoo.train`` (``nnzoo.runner.train``) also takes a
            book experiment id. With a Recipe, the arguments of its own
            fields (epochs, runs, data, n_validation, monitor, protocol,
            overrides) given here replace its.
        epochs: number of epochs (default: the card's).
        runs: independent runs with seeds ``seed``, ``seed + 1``, ...; the
            best one by the protocol is reported (the book used 3).
        data: ``"mnist"``, ``"expanded"`` or ``"mnist[:N]"`` (default: the
            card's). The penalty's n is the size of this training set unless
            ``n_train`` is overridden.
        seed: the first run's seed.
        out: the run directory (default ``runs/NAME-seedSEED``). Re-running
            with the same ``out`` resumes.
        verbose: 0 quiet, 1 one line per epoch, 2 also a progress bar within each
            epoch (an expanded-data epoch on a CPU takes minutes).
        n_validation, n_test: evaluate on the first n validation / test
            images only (for quick checks; the book uses all 10,000).
        monitor: also record network2's full-pass ``training_cost``,
            ``training_accuracy``, ``validation_cost`` and ``test_cost`` every
            epoch (for the chapter 3 overfitting figures).
        announce: print the measured-vs-book line at the end (when verbose).
        callbacks: Keras callbacks (``keras.callbacks.TensorBoard``,
            ``CSVLogger``, ``EarlyStopping``, your own, ...), driven through a
            ``keras.callbacks.CallbackList``: ``on_train_begin``,
            ``on_epoch_begin``, ``on_epoch_end`` and ``on_train_end``. Epoch
            logs hold ``loss`` and ``accuracy`` (the epoch's running training
            values), ``validation_accuracy`` (also as ``val_accuracy``),
            ``test_accuracy`` and ``eta``. Batch-level hooks are not called:
            an epoch is one compiled loop. A callback that sets
            ``model.stop_training`` ends that run after the epoch. For
            several runs (``runs=k``) or an ensemble, pass a function of the
            run's (member's) 1-based index that returns its callbacks, e.g.
            ``lambda k: [keras.callbacks.CSVLogger(f"run-{k}.csv")]``.

    When it is the first thing to run TensorFlow in the process, ``train``
    sets TensorFlow to one thread per op (``nnzoo.epoch.single_threaded_ops``),
    1.1-1.3x faster at mini-batch 10; the setting is process-wide, so a
    process that serves large batches afterwards should set
    ``NNZOO_INTRA_OP_THREADS=0`` to keep TensorFlow's default.
        protocol: the ``nnzoo.protocols.Protocol`` to select by (default: the
            card's: its book program and the split of its book number).
        book: the book's number printed beside the measured one: an
            ``nnzoo.BookResult`` or the ``nnzoo.comparison.BookComparison``
            ``nnzoo.train`` makes (default: the card's book result).
        processes: train the runs (an ensemble's members) in this many
            processes at once, the runs dealt out round-robin, each process
            stepping its share in lockstep; default 1: all of them in lockstep in this
            process. On a CPU, separate processes can fill the cores better
            than one (``docs/PERFORMANCE.md`` measures both); every run gets
            the same updates either way. Each process loads the data itself.
            Not with ``callbacks`` (a callback lives in this process). Run
            from a script, guard the call with ``if __name__ == "__main__":``
            (the processes start by importing your main module).
        **overrides: model overrides for ``nnzoo.build`` (``eta``,
            ``lmbda``, ``hidden``, ...), and ``eta_final``: decay η
            geometrically from ``eta`` to ``eta_final`` over the epochs.

    Example:

    >>> result = nnzoo.train("shallow_sigmoid", epochs=2)  # doctest: +SKIP
    >>> result.reported, result.best_epoch  # doctest: +SKIP
    >>> nnzoo.train("C3-12")  # the book's 98% run: network2_100, η = 0.1, λ = 5, 60 epochs  # doctest: +SKIP
    """
    single_threaded_ops()  # a no-op once TensorFlow runs (or under JAX)
    recipe = as_recipe(name, overrides, epochs=epochs, runs=runs, data=data, n_validation=n_validation,
                       monitor=monitor, protocol=protocol)  # checked once, there: bad settings fail before any data
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0. Received: seed={seed!r}.")
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive integer. Received: processes={processes!r}.")
    if processes > 1 and callbacks is not None:
        raise ValueError(f"callbacks run in this process, and processes={processes} trains the runs in others. "
                         f"Pass processes=1 to use callbacks. Received: callbacks={callbacks!r}.")
    name, model_card, runs, n_validation, protocol = (recipe.network, recipe.card, recipe.runs, recipe.n_validation,
                                                      recipe.protocol)
    callbacks_for = _callbacks_for(callbacks, runs, model_card.is_ensemble)
    config = recipe.settings()  # the run's resolved recipe, as recipe.json holds it
    data_spec = config["data"]
    split = load_data(data_spec, n_validation=n_validation, n_test=n_test)
    if "n_train" not in recipe.overrides:
        config["n_train"] = len(split.train.y)
    if recipe.monitor:
        config["monitor"] = True
    if processes > 1:  # each process loads its own training images; this one reads only the evaluation sets
        split = split._replace(train=None)
    # Part of the recipe, so that resuming with other evaluation sets is refused.
    config.update({k: v for k, v in (("n_validation", n_validation), ("n_test", n_test)) if v})
    recipe = config
    book = _book_number(book, model_card)
    out = Path(out or default_out(name, seed))
    ensemble = model_card.is_ensemble
    _check_out(out, runs, ensemble)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with _sigterm_as_interrupt(), RunDir(out).lock():
            in_processes = {"processes": processes, "data_args": (data_spec, n_validation, n_test)}
            if ensemble:
                return _train_ensemble(model_card, recipe, split, protocol, seed, out, verbose, announce,
                                       callbacks_for, book, in_processes)
            configs = [dict(recipe, seed=seeds.run_seed(seed, index)) for index in range(runs)]
            run_dirs = [run.path for run in RunDir(out).runs(runs)]
            trained = _completed(name, configs, run_dirs, models=False, verbose=verbose, out=out)
            if trained is None:
                trained = _train_runs(name, configs, split, protocol, run_dirs, verbose, callbacks_for, models=False,
                                      **in_processes)
            run_results = [result for result, _ in trained]
            best = max(range(runs), key=lambda i: protocol.selection_key(run_results[i]))
            return _finish(model_card, recipe, protocol, run_results, best, run_results[best].reported,
                           run_results[best].test_accuracy, out, verbose and announce, book)
    except rundir.InUse as err:
        raise RunDirectoryError(str(err)) from None


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Stop on SIGTERM (a scheduler's, ``ray stop``'s) as on Ctrl-C: ``KeyboardInterrupt``, the completed epochs kept,
    the lock released. Only where SIGTERM still has its default action, in the main thread."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _callbacks_for(callbacks, runs, ensemble):
    """``run index -> list of callbacks`` from ``train``'s ``callbacks`` argument (checked)."""
    if callbacks is None:
        return None
    if callable(callbacks) and not isinstance(callbacks, keras.callbacks.Callback):
        return lambda index: _checked_callbacks(callbacks(index))
    checked = _checked_callbacks(callbacks)
    if runs > 1 or ensemble:
        raise ValueError(
            f"A callback object follows one model, and this trains {'an ensemble' if ensemble else f'{runs} runs'}. "
            f"Pass a function of the run's index instead, e.g. callbacks=lambda k: "
            f"[keras.callbacks.CSVLogger(f'run-{{k}}.csv')]. Received: callbacks={callbacks!r}."
        )
    return lambda index: checked


def _checked_callbacks(callbacks):
    if isinstance(callbacks, keras.callbacks.Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, keras.callbacks.Callback) for c in callbacks):
        raise ValueError(f"callbacks must be a list of keras.callbacks.Callback. Received: {callbacks!r}.")
    return list(callbacks)


def default_out(name, seed):
    """The run directory ``train`` uses when ``out`` is not given."""
    return Path(DEFAULT_RUNS_DIR) / f"{name}-seed{seed}"


def _check_out(out, runs, ensemble):
    """Refuse a run directory that is not one, or that holds another layout of runs."""
    if ensemble and runs != 1:
        raise ValueError(f"An ensemble trains each of its members once; runs= does not apply. Received: runs={runs}. "
                         f"Set the number of members with n_members= instead.")
    if out.exists() and not out.is_dir():
        raise RunDirectoryError(f"{out} is a file, not a run directory. Choose a directory for out= (--out).")
    if not out.exists():
        return
    if not RunDir(out).is_run_dir():
        held = sorted(entry.name for entry in out.iterdir())
        raise RunDirectoryError(
            f"{out} exists and is not an nnzoo run directory (it holds {', '.join(held[:5])}"
            f"{' ...' if len(held) > 5 else ''}); training would write into it. Choose a new or empty directory "
            f"for out= (--out)."
        )
    several = [run.path.name for run in RunDir(out).runs()]
    if ensemble:
        return
    if runs == 1 and several:
        raise RunDirectoryError(f"{out} holds {len(several)} runs ({', '.join(several)}). Received: runs=1. Pass "
                                f"runs={len(several)} to resume them, or use another out= directory.")
    if runs > 1 and RunDir(out).history_file.exists():
        raise RunDirectoryError(f"{out} holds a single run. Received: runs={runs}. Use another out= directory for "
                                f"{runs} runs (or runs=1 to resume this one).")


def _train_ensemble(model_card, recipe, split, protocol, seed, out, verbose, announce, callbacks_for=None,
                    book=None, in_processes=None):
    member = model_card.architecture["member"]
    n_members = recipe.get("n_members", model_card.architecture["n_members"])
    member_recipe = {k: v for k, v in recipe.items() if k != "n_members"}
    indices = range(1, n_members + 1)
    member_dirs = [directory.path for directory in RunDir(out).members(indices)]
    configs = [dict(member_recipe, seed=seeds.member_seed(seed, index)) for index in indices]
    trained = _completed(member, configs, member_dirs, models=True, verbose=verbose, out=out, what="members",
                         name=model_card.name)
    if trained is None:
        trained = _train_runs(member, configs, split, protocol, member_dirs, verbose, callbacks_for,
                              **(in_processes or {}))
    member_results = [result for result, _ in trained]
    probabilities = [model.predict(split.test.x, batch_size=1000, verbose=0) for _, model in trained]
    vote_accuracy = float(np.mean(layers.vote(probabilities) == split.test.y))
    best = max(range(len(member_results)), key=lambda i: protocol.selection_key(member_results[i]))
    return _finish(model_card, recipe, protocol, member_results, best, vote_accuracy, vote_accuracy,
                   out, verbose and announce, book)


def _book_number(book, model_card):
    """``train``'s ``book=``: the card's number by default; an old ``(accuracy, split, label)`` tuple still works."""
    if book is None:
        return model_card.book_result
    if isinstance(book, tuple) and not hasattr(book, "text"):
        if not book:
            return None
        warnings.warn("train(book=(accuracy, split, label)) is deprecated; pass an nnzoo.BookResult (or the "
                      "nnzoo.comparison.BookComparison nnzoo.train makes).", DeprecationWarning, stacklevel=3)
        return registry.BookResult(book[0], book[1], experiment=book[2])
    return book


def _wall_time(run_results):
    """The runs' seconds over all their sessions (not only this process's): each epoch's training, an epoch of
    runs stepped in lockstep counted once, and each run's evaluation; the time of runs trained in k processes at
    once shared by k (they overlapped)."""
    return float(sum((entry["seconds"] / entry.get("lockstep", 1) + entry.get("evaluation_seconds", 0.0))
                     / entry.get("processes", 1) for result in run_results for entry in result.history))


def _finish(model_card, recipe, protocol, run_results, best, reported, test_accuracy, out, verbose, book):
    description = protocol.describe(members=len(run_results) if model_card.is_ensemble else None)
    result = TrainResult(
        name=model_card.name,
        recipe=recipe,
        protocol=description,
        runs=run_results,
        best_run=best,
        reported=reported,
        test_accuracy=test_accuracy,
        wall_time=_wall_time(run_results),
        run_dir=str(out),
    )
    summary = {k: v for k, v in dataclasses.asdict(result).items() if k != "runs"}
    summary["runs"] = [{k: v for k, v in dataclasses.asdict(r).items() if k != "history"} for r in run_results]
    RunDir(out).write_json(rundir.SUMMARY, summary)
    if verbose:
        book_text = book.text() if book else "no number in the book"
        print(f"{model_card.name}: measured {100 * reported:.2f}% ({description}); book {book_text}", flush=True)
    return result
