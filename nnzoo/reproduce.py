"""``nnzoo reproduce``: train the book's experiments by their recipes and render their results.

Each selected experiment runs as ``nnzoo.experiments.run`` into ``OUT/ID`` (the
book's runs, epochs, data and protocol). An experiment whose record is complete
is skipped; an interrupted one resumes after its last completed epoch. With a
Ray cluster (``ray=ADDRESS`` or ``"auto"``; ``pip install -e ".[ray]"``), each
experiment is one Ray task on one CPU (or GPU) of the cluster, writing into the
same ``OUT/ID`` (a shared file system); without one, they run one after the
other here.

Example:

>>> from nnzoo import reproduce
>>> reproduce.select(chapters=[5])
['C5-01', 'C5-02', 'C5-03', 'C5-04', 'C5-05', 'C5-06']
>>> reproduce.reproduce(["C1-01"], out="runs/experiments")  # doctest: +SKIP
"""

import json
import sys
import time
from pathlib import Path

from nnzoo import experiments, records, results

__all__ = ["select", "is_complete", "reproduce", "RAY_HINT"]

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


def is_complete(run_dir):
    """Whether ``run_dir/experiment.json`` records the full recipe's outcome (a number, or a divergence:
    the book's C3-18 diverges too), not a reduced budget."""
    path = Path(run_dir) / records.FILE
    if not path.is_file():
        return False
    record = json.loads(path.read_text())
    return bool(record.get("measured") or record.get("diverged")) and not record.get("reduced_budget")


def _run_one(experiment_id, out, seed):
    """Train one experiment into ``out/ID``; return its record (the unit of work, local or on Ray)."""
    return experiments.run(experiment_id, seed=seed, out=Path(out) / experiment_id, verbose=0,
                           command=f"nnzoo reproduce {experiment_id} --out {out}")


def reproduce(ids, *, out="runs/experiments", seed=0, ray=None, results_file=None, figures_dir=None, log=print):
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
    """
    out = Path(out)
    pending = [i for i in ids if not is_complete(out / i)]
    for done in (i for i in ids if i not in pending):
        log(f"{done}: complete in {out / done}, skipped")
    started = time.perf_counter()
    if ray is not None and pending:
        trained = _on_ray(pending, out, seed, ray, log)
    else:
        trained = {}
        for index, experiment_id in enumerate(pending, start=1):
            log(f"[{index}/{len(pending)}] {experiment_id}: {experiments.get(experiment_id).title} ...")
            trained[experiment_id] = _run_one(experiment_id, out, seed)
            log(f"[{index}/{len(pending)}] {experiment_id}: {_outcome(trained[experiment_id])}")
    all_records = {i: json.loads((out / i / records.FILE).read_text()) for i in ids
                   if (out / i / records.FILE).is_file()}
    log("")
    log(summary(ids, all_records))
    log(f"{len(pending)} trained, {len(ids) - len(pending)} already complete, {time.perf_counter() - started:.0f} s")
    if results_file:
        results.write_into(results_file, results.render(results.load_records(out)))
        log(f"rendered {results_file} from the records under {out}")
    if figures_dir:
        from nnzoo import figures  # noqa: PLC0415

        for name in figures.for_experiments([i for i in ids if is_complete(out / i)]):
            files = figures.draw(name, runs=out, out=figures_dir)
            log(f"{name}: " + ", ".join(str(f) for f in files))
    return all_records


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


def _on_ray(pending, out, seed, address, log):
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise ValueError(RAY_HINT) from None
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 log_to_driver=False, include_dashboard=False)
    task = ray.remote(num_cpus=1)(_run_one)
    futures = {task.remote(i, str(out.resolve()), seed): i for i in pending}
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
              figures_dir=args.figures, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit("Use the command line: nnzoo reproduce --help")
