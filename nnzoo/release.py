"""The release of the zoo's weights: what ``weights="mnist"`` ships, recorded in ``nnzoo/pretrained.json``.

The campaign (``recipes/stock_zoo.py``) trains each network's source experiment
(``nnzoo.experiments.for_weights``) into ``OUT/ID``; this tool ships its result:

- ``publish``: write the protocol's pick of each finished experiment (the run
  directory's trained model, ``rundir.RunDir``) to the shelf, ``savedmodels/``,
  as ``NAME.weights.h5``, or as a TF-Serving SavedModel ``NAME/VERSION`` for the
  networks of ``pretrained.SERVED``; measure what ships on the 10,000 test
  images and record it in ``nnzoo/pretrained.json`` (``nnzoo.card(NAME).weights``).
  ``--dry-run`` writes nothing under the shelf: it rebuilds each record from the
  run directory and the file already shipped, writes the table to a temporary
  directory and compares it with ``nnzoo/pretrained.json`` (exit 1 when they differ).
- ``pack DIR``: write every shipped record's file under the name
  ``pretrained.BASE_URL`` serves it by (a SavedModel as its ``.tar.gz``): upload
  them there for a pip-installed nnzoo to download.

After a publish, refresh the README's zoo table: ``python -m nnzoo.zoo_table --write``.

    python -m nnzoo.release publish [NAME ...] [--out docs/runs/cpu] [--dry-run]
    python -m nnzoo.release pack DIR
"""

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

from nnzoo import data, experiments, files, pretrained, records, registry, reproduce, rundir, weights_io

__all__ = ["dry_run", "finished", "main", "pack", "publish", "record_of", "shipped_file", "weights_sources"]

#: Where the campaign keeps the committed run directories.
DEFAULT_OUT = "docs/runs/cpu"
_MISSING = object()


def finished(experiment, out, ships=True):
    """Whether the experiment's record is the full recipe's (``nnzoo reproduce``'s test) with a number, every run
    has all its epochs (a re-run in progress has fewer), and, for a weights source (``ships``), its pick ships or
    left its selected weights beside it (the shelf keeps each set of weights once, and a fresh checkout has no run
    weights)."""
    run_dir = Path(out) / experiment.id
    if not reproduce.is_complete(run_dir):
        return False
    record = _record(run_dir)
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


def publish(name, experiment, run_dir, shelf=pretrained.CHECKOUT_DIR, table=None):
    """Write the protocol's pick of a finished experiment to the shelf and record what it scores in ``table``.

    The networks of ``pretrained.SERVED`` ship as a TF-Serving SavedModel (``shelf/NAME/VERSION``), the
    others as ``shelf/NAME.weights.h5``: each set of weights is stored once. ``table``: the JSON table
    to update (default ``pretrained.TABLE``, ``nnzoo/pretrained.json``). Returns the record.
    """
    from nnzoo import exporting  # noqa: PLC0415  (TensorFlow: only a publish that writes needs it)

    shelf = Path(shelf)
    shelf.mkdir(parents=True, exist_ok=True)
    test = _test_split()
    model = registry.build(name, compile=False, weights=str(run_dir))
    pick = _Pick.of(name, run_dir)
    if name in pretrained.SERVED:
        record, summary = pick.record, pick.summary
        metadata = {"test_accuracy": _accuracy(model, test), "recipe": dict(summary["recipe"]),
                    "experiment": experiment.id, "command": record["command"]}
        target = exporting.export(model, shelf / name, metadata=metadata)
    else:
        target = shelf / f"{name}.weights.h5"
        model.save_weights(target)
    row = record_of(name, experiment, run_dir, target, shelf, test)
    _write_rows([row], Path(table or pretrained.TABLE))
    print(f"  shipped {target} ({row.size:,} bytes): test {row.test_accuracy:.2%} "
          f"(the run measured {pick.test_accuracy:.2%})", flush=True)
    for stale in sorted(p.parent for p in (shelf / name).glob("*/saved_model.pb") if p.parent != target):
        print(f"  {stale} no longer has a record (the shelf keeps each network's weights once): git rm -r {stale}")
    return row


def record_of(name, experiment, run_dir, target, shelf, test=None):
    """The ``pretrained.Weights`` record of the shipped file ``target`` (under ``shelf``), picked from ``run_dir``.

    Which run and epoch, the recipe and how it was made come from the run directory's records; the file's
    hash and size from ``target``; its test accuracy is measured on ``test`` (default: the 10,000 test
    images) with the weights read back from ``target``, as ``build(NAME, weights="mnist")`` reads them.
    """
    target, shelf = Path(target), Path(shelf)
    pick = _Pick.of(name, run_dir)
    record, summary, best, history = pick.record, pick.summary, pick.best, pick.history
    if target.is_dir():
        file, digest, size = target.relative_to(shelf).as_posix(), files.tree_sha256(target), files.tree_size(target)
        stored_as = "savedmodel"
    else:
        file, digest, size = target.name, files.sha256(target), target.stat().st_size
        stored_as = "weights.h5"
    shipped = registry.build(name, compile=False, weights=str(target))  # measure what ships, read back
    accuracy = _accuracy(shipped, test if test is not None else _test_split())
    if pick.ensemble:
        selected_by = {"split": "test", "accuracy": summary["reported"]}
    else:
        split = record["measured"]["split"]
        selected_by = {"split": split, "accuracy": history[best["best_epoch"]][f"{split}_accuracy"]}
    row = pretrained.Weights(
        name=name, file=file, sha256=digest, size=size, format=stored_as,
        test_accuracy=accuracy, experiment=experiment.id, protocol=record["protocol"], selected_by=selected_by,
        run=summary["best_run"] + 1, runs=len(summary["runs"]), seed=best["seed"],
        epoch=len(history) if pick.ensemble else best["best_epoch"] + 1, epochs=len(history),
        recipe=dict(summary["recipe"]), hardware=record["hardware"],
        wall_time_s=record["wall_time_s"], date=record["date"], command=record["command"],
    )
    if row.is_saved_model:  # the published archive's hash: a download is checked against it before extraction
        row = dataclasses.replace(row, archive_sha256=pretrained.packed_sha256(row, target))
    return row


def shipped_file(name, shelf=pretrained.CHECKOUT_DIR):
    """The file on the shelf that ships ``name``'s weights (a SavedModel: its latest version); ``None`` if none."""
    shelf = Path(shelf)
    if name in pretrained.SERVED:
        return weights_io.saved_model_in(shelf / name) if (shelf / name).is_dir() else None
    target = shelf / f"{name}.weights.h5"
    return target if target.is_file() else None


def dry_run(names, out, shelf=pretrained.CHECKOUT_DIR, table=None, into=None):
    """Rebuild the records of ``names`` from their run directories under ``out`` and the files already on the shelf;
    write them as a table under ``into`` (a new temporary directory by default: nothing under the shelf is written)
    and compare each with ``table``'s (default ``pretrained.TABLE``), field for field as ``pretrained.get`` reads it.

    Returns:
        ``(path, differences)``: the rebuilt table, and for each network that is not rebuilt the same a line
        saying which fields differ or why it was not rebuilt (with every source network asked for, also each
        row of ``table`` that none rebuilt).
    """
    table = Path(table or pretrained.TABLE)
    published = _rows_by_name(table)
    rebuilt = Path(into or tempfile.mkdtemp(prefix="nnzoo-release-")) / table.name
    test = _test_split()
    differences = {}
    for name in names:
        experiment = experiments.for_weights(name)
        run_dir, target = Path(out) / experiment.id, shipped_file(name, shelf)
        if target is None and name not in published:
            print(f"{name}: not shipped", flush=True)  # nothing published, nothing to rebuild (deep_fc_ciresan)
            continue
        if target is None or not (run_dir / records.FILE).is_file():
            differences[name] = "no shipped file on the shelf" if target is None else f"{run_dir} holds no record"
            continue
        row = record_of(name, experiment, run_dir, target, shelf, test)
        _write_rows([row], rebuilt)
        # Compared as records: a row written before a field existed omits it and reads as its default.
        row, was = row.to_dict(), pretrained.Weights(**published[name]).to_dict() if name in published else {}
        changed = [f"{key} ({was.get(key)!r} in {table.name}, rebuilt {row.get(key)!r})"
                   for key in sorted(row.keys() | was.keys()) if was.get(key, _MISSING) != row.get(key, _MISSING)]
        print(f"{name}: {'the same' if not changed else 'differs'}", flush=True)
        if changed:
            differences[name] = "differs in " + "; ".join(changed)
    if set(names) >= set(weights_sources()):  # the whole table: a record of no source network is one too many
        differences.update((name, f"in {table.name}, not rebuilt") for name in sorted(set(published) - set(names)))
    return rebuilt, differences


def pack(into):
    """Write each shipped record's file, as ``record.url`` names it, into ``into``; return their paths."""
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for name in pretrained.names():
        record = pretrained.get(name)
        if record.is_saved_model:
            written.append(pretrained.pack(record, into))
        else:
            written.append(Path(shutil.copyfile(pretrained.file_path(record), into / record.archive)))
    return written


def weights_sources():
    """The networks with a source experiment (``experiments.for_weights``), whose weights the zoo can ship (all but
    those not trained yet: ``deep_fc_ciresan``, hours on a GPU)."""
    found = []
    for name in registry.list_models():
        try:
            experiments.for_weights(name)
        except ValueError:
            continue
        found.append(name)
    return found


def _record(run_dir):
    """The experiment's record (``experiment.json``, validated); a run directory without one cannot ship."""
    record = records.read(run_dir)
    if record is None:
        raise ValueError(f"{str(Path(run_dir) / records.FILE)!r} does not exist: the experiment has not finished. "
                         f"Finish it first: python recipes/stock_zoo.py --out {Path(run_dir).parent}")
    return record


@dataclasses.dataclass(frozen=True)
class _Pick:
    """What a finished experiment's run directory says of the protocol's pick: its record, summary, best run and
    that run's history."""

    ensemble: bool
    record: dict
    summary: dict
    best: dict
    history: list

    @classmethod
    def of(cls, name, run_dir):
        directory = rundir.RunDir(run_dir)
        summary = directory.summary()
        best = summary["runs"][summary["best_run"]]
        ensemble = registry.card(name).is_ensemble
        # The best run (the directory itself for one run); an ensemble's summary names its best member.
        run = directory.child(Path(best["run_dir"]).name) if ensemble else directory.best_run()
        return cls(ensemble, _record(run_dir), summary, best, run.history())

    @property
    def test_accuracy(self):
        """The test accuracy the run measured for its pick (an ensemble: its vote's)."""
        return self.summary["test_accuracy"] if self.ensemble else self.history[self.best["best_epoch"]]["test_accuracy"]


def _rows_by_name(table):
    """The rows of the JSON weights table at ``table`` by network name (none when there is no table yet)."""
    return {row["name"]: row for row in json.loads(table.read_text())} if table.is_file() else {}


def _write_rows(rows, table):
    """Put ``rows`` (``pretrained.Weights``) into the JSON table at ``table``, one row a network, sorted by name."""
    table = Path(table)
    by_name = _rows_by_name(table)
    by_name.update((row.name, row.to_dict()) for row in rows)
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text(json.dumps([by_name[k] for k in sorted(by_name)], indent=1) + "\n")


def _test_split():
    return data.load_split().test


def _accuracy(model, test):
    return data.accuracy(model.predict(test.x, batch_size=1000, verbose=0), test.y)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnzoo.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    publishing = verbs.add_parser("publish", help="ship the protocol's pick of each finished experiment")
    publishing.add_argument("names", nargs="*", help="networks to ship (default: every one with a source experiment)")
    publishing.add_argument("--out", default=DEFAULT_OUT, help="parent of the experiment run directories")
    publishing.add_argument("--shelf", default=str(pretrained.CHECKOUT_DIR), help="where the shipped files go")
    publishing.add_argument("--table", default=str(pretrained.TABLE), help="the records' JSON table")
    publishing.add_argument("--dry-run", action="store_true",
                            help="write nothing under the shelf: rebuild the records from the run directories and "
                                 "the shipped files into a temporary table and compare it with --table")
    packing = verbs.add_parser("pack", help="write the shipped weights' release files to DIR")
    packing.add_argument("into", metavar="DIR")
    args = parser.parse_args(argv)

    if args.verb == "pack":
        for path in pack(args.into):
            print(f"{path} ({path.stat().st_size:,} bytes)")
        print(f"Upload these files to {pretrained.BASE_URL}")
        return 0
    unknown = [name for name in args.names if name not in weights_sources()]
    if unknown:
        print(f"nnzoo.release: no book experiment trains {', '.join(unknown)} by a card's recipe, so the zoo ships no "
              f"weights of it. Expected network names: {', '.join(weights_sources())}.", file=sys.stderr)
        return 2
    names = args.names or weights_sources()
    if args.dry_run:
        rebuilt, differences = dry_run(names, Path(args.out), shelf=args.shelf, table=args.table)
        for name, why in differences.items():
            print(f"  {name}: {why}")
        count = len(json.loads(rebuilt.read_text())) if rebuilt.is_file() else 0
        print(f"wrote {rebuilt}: " + (f"{args.table} is reproduced exactly ({count} records)" if not differences
                                      else f"{len(differences)} records differ from {args.table}"))
        return 1 if differences else 0
    for name in names:
        experiment = experiments.for_weights(name)
        if not finished(experiment, Path(args.out)):
            print(f"{name}: {Path(args.out) / experiment.id} is not finished; nothing shipped", flush=True)
            continue
        print(f"{name}: {experiment.id}", flush=True)
        publish(name, experiment, Path(args.out) / experiment.id, shelf=args.shelf, table=args.table)
    print("Refresh the README's zoo table: python -m nnzoo.zoo_table --write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
