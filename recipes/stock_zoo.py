"""Train every network's weights by its book recipe: the campaign behind ``weights="mnist"``.

Each network's weights come from the book experiment whose recipe is the network's card recipe
(``nnzoo.experiments.for_weights``), trained with the book's number of runs into
``OUT/ID`` (the committed records live in ``docs/runs/cpu``). Finished experiments are skipped;
an interrupted one resumes after its last completed epoch. ``--publish`` then writes the
protocol's pick of each finished experiment to ``savedmodels/NAME.weights.h5`` (a SavedModel
``savedmodels/NAME/VERSION`` for the networks a server would host), measures it on
the 10,000 test images and records it in ``nnzoo/pretrained.json`` (``nnzoo.card(NAME).weights``).

``--release DIR`` writes the files of every shipped record under the names ``pretrained.BASE_URL`` serves them
by (a SavedModel as its ``.tar.gz``): upload them there for a pip-installed nnzoo to download.

    python recipes/stock_zoo.py [NAME ...] [--out docs/runs/cpu] [--list | --publish | --release DIR]
"""

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import nnzoo
from nnzoo import data, experiments, files, pretrained, records, registry, reproduce, rundir, training


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="networks to train (default: every one with a source experiment), "
                                                 "or experiment ids (a chapter 6 row that ships no weights: C6-07)")
    parser.add_argument("--out", default="docs/runs/cpu", help="parent of the experiment run directories")
    parser.add_argument("--processes", type=int, default=1, metavar="K",
                        help="train each experiment's runs in K processes at once (nnzoo.train's processes)")
    parser.add_argument("--list", action="store_true", help="print the plan (and how far unfinished runs are) and exit")
    parser.add_argument("--publish", action="store_true",
                        help="ship the weights of the finished experiments instead of training")
    parser.add_argument("--release", metavar="DIR", help="write the shipped weights' release files to DIR and exit")
    args = parser.parse_args(argv)
    if args.release:
        for path in release(Path(args.release)):
            print(f"{path} ({path.stat().st_size:,} bytes)")
        print(f"Upload these files to {pretrained.BASE_URL}")
        return 0
    names = args.names or [name for name in registry.list_models() if name != "deep_fc_ciresan"]
    for name in names:
        experiment = experiments.get(name) if name in _IDS else experiments.for_weights(name)
        ships = _is_weights_source(experiment)
        done = _complete(experiment, Path(args.out), ships)
        print(f"{name}: {experiment.id} x{experiment.runs}{' (done)' if done else _progress(experiment, Path(args.out))}",
              flush=True)
        if args.publish and done and ships:
            publish(experiment.model, experiment, Path(args.out) / experiment.id)
        if done or args.list or args.publish:
            continue
        if registry.card(experiment.model).is_ensemble:
            _members_from_runs(experiment, Path(args.out))
        experiments.run(experiment.id, out=Path(args.out) / experiment.id, processes=args.processes,
                        command=f"python recipes/stock_zoo.py {name} --out {args.out}")
    return 0


_IDS = {experiment.id for experiment in experiments.EXPERIMENTS}


def _is_weights_source(experiment):
    try:
        return experiments.for_weights(experiment.model) == experiment
    except ValueError:
        return False


def _progress(experiment, out):
    """How far an unfinished experiment's runs are, from their histories: `` (epochs done: 15, 15, 14 of 60)``."""
    directory = rundir.RunDir(out / experiment.id)
    runs = directory.members() if registry.card(experiment.model).is_ensemble else directory.runs(experiment.runs)
    done = [run.epochs_done() for run in runs]
    return f" (epochs done: {', '.join(map(str, done))} of {experiment.settings()['epochs']})" if any(done) else ""


def _complete(experiment, out, ships=True):
    """Whether the experiment's record is the full recipe's (``nnzoo reproduce``'s test) with a number, every run
    has all its epochs (a re-run in progress has fewer), and, for a weights source (``ships``), its pick ships or
    left its selected weights beside it (the shelf keeps each set of weights once, and a fresh checkout has no run
    weights)."""
    run_dir = out / experiment.id
    if not reproduce.is_complete(run_dir):
        return False
    record = records.read(run_dir)
    if not record.get("measured"):  # a divergence completes an experiment, but leaves nothing to ship
        return False
    directory = rundir.RunDir(run_dir)
    histories = [run.history() for run in (directory, *directory.runs(), *directory.members())
                 if run.history_file.is_file()]
    if not histories or any(len(history) != record["epochs"] for history in histories):
        return False
    if not ships:
        return True
    shipped = pretrained.get(experiment.model)
    if shipped is not None and shipped.experiment == experiment.id and shipped.date == record.get("date"):
        return True
    return any(run_dir.rglob(rundir.SELECTED_WEIGHTS))


def _members_from_runs(experiment, out):
    """Start an ensemble's members from its member network's finished runs: member k has run k's seed and recipe
    (``nnzoo.seeds.member_seed``), so C6-11's three ``conv2_dropout`` runs are C6-12's first three members,
    trained once. A copy goes only into a member directory that does not exist yet; training checks its recipe
    (a run of another recipe is refused, not reused) and finds it complete."""
    member = registry.card(experiment.model).architecture["member"]
    source = out / experiments.for_weights(member).id
    for run in rundir.RunDir(source).runs():
        target = rundir.RunDir(out / experiment.id).members([int(run.path.name.split("-")[-1])])[0].path
        if target.exists() or not run.history_file.is_file():
            continue
        if not run.checkpoint(len(run.history())).is_file():
            continue  # a checkout without run weights: nothing to reuse
        shutil.copytree(run.path, target)
        print(f"  {target} starts as {run.path} (the same seed and recipe)", flush=True)


def publish(name, experiment, run_dir, shelf=pretrained.CHECKOUT_DIR):
    """Write the protocol's pick of a finished experiment to the shelf and record what it scores.

    The networks of ``pretrained.SERVED`` ship as a TF-Serving SavedModel (``shelf/NAME/VERSION``), the
    others as ``shelf/NAME.weights.h5``: each set of weights is stored once.
    """
    shelf = Path(shelf)
    shelf.mkdir(parents=True, exist_ok=True)
    record = records.read(run_dir)
    summary = rundir.RunDir(run_dir).summary()
    best = summary["runs"][summary["best_run"]]
    ensemble = registry.card(name).is_ensemble
    test = training.load_data("mnist").test
    model = registry.build(name, compile=False, weights=str(run_dir))
    if name in pretrained.SERVED:
        metadata = {"test_accuracy": _accuracy(model, test), "recipe": dict(summary["recipe"]),
                    "experiment": experiment.id, "command": record["command"]}
        target = nnzoo.export(model, shelf / name, metadata=metadata)
        file, digest, size = target.relative_to(shelf).as_posix(), files.tree_sha256(target), files.tree_size(target)
        stored_as = "savedmodel"
    else:
        target = shelf / f"{name}.weights.h5"
        model.save_weights(target)
        file, digest, size = target.name, files.sha256(target), target.stat().st_size
        stored_as = "weights.h5"
    shipped = registry.build(name, compile=False, weights=str(target))  # measure what ships, read back
    accuracy = _accuracy(shipped, test)
    history = rundir.RunDir(run_dir).child(Path(best["run_dir"]).name).history()  # run-K / member-K inside
    if ensemble:
        selected_by = {"split": "test", "accuracy": summary["reported"]}
    else:
        split = record["measured"]["split"]
        selected_by = {"split": split, "accuracy": history[best["best_epoch"]][f"{split}_accuracy"]}
    row = pretrained.Weights(
        name=name, file=file, sha256=digest, size=size, format=stored_as,
        test_accuracy=accuracy, experiment=experiment.id, protocol=record["protocol"], selected_by=selected_by,
        run=summary["best_run"] + 1, runs=len(summary["runs"]), seed=best["seed"],
        epoch=len(history) if ensemble else best["best_epoch"] + 1, epochs=len(history),
        recipe={k: v for k, v in summary["recipe"].items()}, hardware=record["hardware"],
        wall_time_s=record["wall_time_s"], date=record["date"], command=record["command"],
    )
    if row.is_saved_model:  # the published archive's hash: a download is checked against it before extraction
        row = dataclasses.replace(row, archive_sha256=pretrained.packed_sha256(row, target))
    rows = {r["name"]: r for r in json.loads(pretrained.TABLE.read_text())} if pretrained.TABLE.exists() else {}
    rows[name] = row.to_dict()
    pretrained.TABLE.write_text(json.dumps([rows[k] for k in sorted(rows)], indent=1) + "\n")
    expected = summary["test_accuracy"] if ensemble else history[best["best_epoch"]]["test_accuracy"]
    print(f"  shipped {target} ({size:,} bytes): test {accuracy:.2%} (the run measured {expected:.2%})", flush=True)
    for stale in sorted(p.parent for p in (shelf / name).glob("*/saved_model.pb") if p.parent != target):
        print(f"  {stale} no longer has a record (the shelf keeps each network's weights once): git rm -r {stale}")


def release(into):
    """Write each shipped record's file, as ``record.url`` names it, into ``into``; return their paths."""
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for name in pretrained.names():
        record = pretrained.get(name)
        if record.is_saved_model:
            written.append(pretrained.pack(record, into))
        else:
            written.append(Path(shutil.copyfile(pretrained.file_path(record), into / record.archive)))
    return written


def _accuracy(model, test):
    return data.accuracy(model.predict(test.x, batch_size=1000, verbose=0), test.y)


if __name__ == "__main__":
    sys.exit(main())
