"""``nnzoo reproduce``: train the book's experiments by their recipes and render their results.

Each selected experiment runs as ``nnzoo.runner.run`` into ``OUT/ID`` (the
book's runs, epochs, data and protocol). An experiment whose record is complete
is skipped; an interrupted one resumes after its last completed epoch. With a
Ray cluster (``ray=ADDRESS`` or ``"auto"``; ``pip install -e ".[ray]"``), each
experiment is one Ray task on one CPU (or GPU) of the cluster, writing into the
same ``OUT/ID`` (a shared file system), with nnzoo's code and this process's
data and weights settings passed on (``runtime_env``); without one, they run one
after the other here.

Example:

>>> from nnzoo import reproduce
>>> reproduce.select(chapters=[5])
['C5-01', 'C5-02', 'C5-03', 'C5-04', 'C5-05', 'C5-06']
>>> reproduce.reproduce(["C1-01"], out="runs/experiments")  # doctest: +SKIP
"""

import os
import sys
import time
from pathlib import Path

from nnzoo import experiments, records, results, runner

__all__ = ["select", "is_complete", "check_paths", "reproduce", "runtime_env", "RAY_HINT"]

RAY_HINT = 'Ray is not installed: pip install -e ".[ray]" (or pip install ray), then start or join a cluster.'


def select(ids=(), chapters=()):
    """The experiment ids to run: the given ids and every experiment of the given chapters, in book order."""
    known = experiments.ids()
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise ValueError(f"Unknown experiment ids. Received: {unknown}. Expected ids such as {known[:3]} "
                         f"(nnzoo info ID shows one; the full list is nnzoo.experiments.ids()).")
    bad = [c for c in chapters if c not in (1, 3, 5, 6)]
    if bad:
        raise ValueError(f"The book's experiments are in chapters 1, 3, 5 and 6. Received: --chapter {bad}.")
    wanted = set(ids) | {e.id for c in chapters for e in experiments.chapter(c)}
    return [i for i in known if i in wanted] if wanted else list(known)


def is_complete(run_dir, reduced=False):
    """Whether ``run_dir/experiment.json`` records the recipe's outcome (a number, or a divergence: the
    book's C3-18 diverges too); a reduced budget counts only for a smoke run (``reduced=True``)."""
    record = records.read(run_dir)
    if record is None:
        return False
    return bool(record.get("measured") or record.get("diverged")) and (reduced or not record.get("reduced_budget"))


def check_paths(out, results_file=None):
    """Refuse output paths that cannot take the results, before any training (and before TensorFlow loads).

    ``out`` must be a directory or not exist; ``results_file`` a Markdown file with the results table's
    markers, or a new file in an existing directory (it gets the markers).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; it must be the parent directory of the experiments' run "
                         f"directories. Choose a directory (it is created if missing).")
    if results_file is None:
        return
    path = Path(results_file)
    if path.is_dir():
        raise ValueError(f"--results {path} is a directory; it must be a Markdown file, e.g. {path / 'RESULTS.md'}.")
    if not path.exists():
        if not path.parent.is_dir():
            raise ValueError(f"--results {path}: its directory {path.parent} does not exist. Create it, or name a "
                             f"file in an existing directory (a new file gets the results table's markers).")
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    if results.BEGIN not in text or results.END not in text:
        raise ValueError(f"--results {path} has no results table markers: the table is rendered between the lines "
                         f"{results.BEGIN!r} and {results.END!r}. Add them where the table belongs, or name a new "
                         f"file.")


def _write_results(path, out):
    """Render the results table of the records under ``out`` into ``path`` (a new file gets the markers)."""
    path = Path(path)
    if not path.exists():
        path.write_text(f"# Results\n\n{results.BEGIN}\n{results.END}\n", encoding="utf-8")
    results.write_into(path, results.render(results.load_records(out)))


def _run_one(experiment_id, out, seed, subset=None, epochs=None):
    """Train one experiment into ``out/ID`` (``out/ID-subsetN-epochsE`` for a smoke run); return its record
    (the unit of work, local or on Ray)."""
    smoke = [f"--{key} {value}" for key, value in (("subset", subset), ("epochs", epochs)) if value]
    return runner.run(experiment_id, seed=seed, out=Path(out) / _dir_name(experiment_id, subset, epochs),
                           verbose=0, subset=subset, epochs=epochs,
                           command=" ".join([f"nnzoo reproduce {experiment_id} --out {out}", *smoke]))


def _dir_name(experiment_id, subset=None, epochs=None):
    return f"{experiment_id}{runner.reduced_suffix(subset, epochs)}"


def reproduce(ids, *, out="runs/experiments", seed=0, ray=None, results_file=None, figures_dir=None, log=print,
              subset=None, epochs=None):
    """Train every experiment of ``ids`` that is not complete in ``out``; return their records by id.

    Args:
        ids: experiment ids (``select`` makes them from chapters).
        out: parent of the experiments' run directories.
        seed: the first run's seed of each experiment.
        ray: a Ray address (``"auto"``, ``"ray://host:10001"``) to run each
            experiment as a Ray task, or ``None`` to run them here, one after the other.
        results_file: a Markdown file with the results table's markers
            (``docs/RESULTS.md``) to re-render from the records under ``out``.
        figures_dir: draw there the book's figures (``nnzoo.figures``) all of
            whose experiments are among ``ids`` and complete.
        log: where progress lines go.
        subset, epochs: a smoke run: the first ``subset`` training, validation
            and test images, ``epochs`` epochs (``nnzoo.runner.run``),
            recorded as a reduced budget in ``out/ID-subsetN-epochsE``, so it
            never blocks the full run.
    """
    check_paths(out, results_file)
    out = Path(out)
    smoke = bool(subset or epochs)
    run_dirs = {i: out / _dir_name(i, subset, epochs) for i in ids}
    pending = [i for i in ids if not is_complete(run_dirs[i], reduced=smoke)]
    for done in (i for i in ids if i not in pending):
        log(f"{done}: complete in {run_dirs[done]}, skipped")
    started = time.perf_counter()
    if ray is not None and pending:
        trained = _on_ray(pending, out, seed, ray, log, subset=subset, epochs=epochs)
    else:
        trained = {}
        for index, experiment_id in enumerate(pending, start=1):
            log(f"[{index}/{len(pending)}] {experiment_id}: {experiments.get(experiment_id).title} ...")
            trained[experiment_id] = _run_one(experiment_id, out, seed, subset=subset, epochs=epochs)
            log(f"[{index}/{len(pending)}] {experiment_id}: {_outcome(trained[experiment_id])}")
    all_records = {i: record for i in ids if (record := records.read(run_dirs[i])) is not None}
    log("")
    log(summary(ids, all_records))
    log(f"{_counts(pending, len(ids))}, {time.perf_counter() - started:.0f} s")
    if results_file:
        _write_results(results_file, out)
        log(f"rendered {results_file} from the records under {out}")
    if figures_dir:
        from nnzoo import figures  # noqa: PLC0415

        for name in figures.for_experiments([i for i in ids if is_complete(run_dirs[i], reduced=smoke)]):
            files = figures.draw(name, runs=out, out=figures_dir)
            log(f"{name}: " + ", ".join(str(f) for f in files))
    return all_records


def _counts(pending, total):
    """'2 networks trained, 1 baseline/study computed, 3 already complete': what this call did, by kind."""
    trained = sum(experiments.get(i).kind == "train" for i in pending)
    computed = len(pending) - trained
    return (f"{trained} network{'' if trained == 1 else 's'} trained, {computed} baseline{'' if computed == 1 else 's'}"
            f"/stud{'y' if computed == 1 else 'ies'} computed, {total - len(pending)} already complete")


def _outcome(record):
    if record.get("measured") is None:
        return f"diverged ({record.get('diverged', 'NaN')})"
    return f"measured {_number(record['measured'])}, book {_number(record.get('book')) or 'gives no number'}"


def _number(number):
    """An accuracy as ``97.92%`` (or a study's values, e.g. a speed ratio); '' for none."""
    return records.number_text(number, several=f"{len((number or {}).get('values') or {})} values")


def summary(ids, records):
    """A plain-text table: id, book, measured, runs, wall time."""
    lines = [f"{'id':<16} {'book %':>8} {'measured %':>11} {'runs':>5} {'minutes':>8}"]
    for experiment_id in ids:
        record = records.get(experiment_id)
        if record is None:
            lines.append(f"{experiment_id:<16} {'':>8} {'(not run)':>11}")
            continue
        book = _number(record.get("book")).rstrip("%") or "–"
        measured = _number(record["measured"]).rstrip("%") if record.get("measured") else "diverged"
        minutes = f"{record['wall_time_s'] / 60:.1f}" if record.get("wall_time_s") is not None else "–"
        lines.append(f"{experiment_id:<16} {book:>8} {measured:>11} {record.get('runs', '–'):>5} {minutes:>8}")
    return "\n".join(lines)


# Settings a Ray worker needs from this process: a cluster started elsewhere (``ray start --head`` in
# another shell) has its own environment, without the user's NNZOO_DATA_DIR and the like.
_PASSED_ON = ("KERAS_HOME", "KERAS_BACKEND")
_PATHS = ("NNZOO_DATA_DIR", "NNZOO_WEIGHTS_DIR", "KERAS_HOME")


def runtime_env():
    """The Ray ``runtime_env`` of the job: nnzoo's own code (``py_modules``, for a cluster that lacks it)
    and this process's ``NNZOO_*`` settings, ``KERAS_HOME`` and ``KERAS_BACKEND`` (``env_vars``; paths made
    absolute)."""
    import nnzoo  # noqa: PLC0415

    env_vars = {}
    for key, value in sorted(os.environ.items()):
        if value and (key.startswith("NNZOO_") or key in _PASSED_ON):
            env_vars[key] = str(Path(value).expanduser().resolve()) if key in _PATHS else value
    return {"py_modules": [str(Path(nnzoo.__file__).resolve().parent)], "env_vars": env_vars}


def _on_ray(pending, out, seed, address, log, subset=None, epochs=None):
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise ValueError(RAY_HINT) from None
    passed_on = runtime_env()
    if not ray.is_initialized():  # the job carries nnzoo's code: Ray uploads a directory only for a whole job
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 log_to_driver=False, include_dashboard=False, runtime_env=passed_on, logging_level="WARNING")
    # Each task carries the settings too, for a Ray the caller started (its job's environment is theirs).
    task = ray.remote(num_cpus=1)(_run_one).options(runtime_env={"env_vars": passed_on["env_vars"]})
    futures = {task.remote(i, str(out.resolve()), seed, subset, epochs): i for i in pending}
    records = {}
    remaining = list(futures)
    while remaining:
        ready, remaining = ray.wait(remaining, num_returns=1)
        experiment_id = futures[ready[0]]
        records[experiment_id] = ray.get(ready[0])
        log(f"[{len(records)}/{len(pending)}] {experiment_id} (Ray): {_outcome(records[experiment_id])}")
    return records


def main(args):
    """The ``nnzoo reproduce`` command."""
    ids = select(args.ids or (), args.chapter or ())
    reproduce(ids, out=args.out, seed=args.seed, ray=args.ray, results_file=args.results,
              figures_dir=args.figures, log=lambda line: print(line, flush=True),
              subset=args.subset, epochs=args.epochs)
    return 0


def check(args):
    """The ``nnzoo reproduce`` arguments that can be refused before TensorFlow loads: ids, counts and paths."""
    select(args.ids or (), args.chapter or ())
    for key in ("subset", "epochs"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise ValueError(f"--{key} must be a positive integer. Received: --{key} {value}.")
    check_paths(args.out, args.results)


if __name__ == "__main__":
    sys.exit("Use the command line: nnzoo reproduce --help")
