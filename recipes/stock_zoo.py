"""Train every network's weights by its book recipe: the campaign behind ``weights="mnist"``.

Each network's weights come from the book experiment whose recipe is the network's card recipe
(``nnzoo.experiments.for_weights``), trained with the book's number of runs into
``OUT/ID`` (the committed records live in ``docs/runs/cpu``). Finished experiments are skipped;
an interrupted one resumes after its last completed epoch.

Shipping the results is the release tool's job (``nnzoo.release``): ``python -m nnzoo.release publish``
writes the protocol's pick of each finished experiment to ``savedmodels/`` and records it in
``nnzoo/pretrained.json``; ``python -m nnzoo.release pack DIR`` writes the files to upload.
``--publish`` and ``--release DIR`` here still run them, with a deprecation note.

    python recipes/stock_zoo.py [NAME ...] [--out docs/runs/cpu] [--list]
"""

import argparse
import shutil
import sys
from pathlib import Path

from nnzoo import experiments, registry, release, runner, rundir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="networks to train (default: every one with a source experiment), "
                                                 "or experiment ids (a chapter 6 row that ships no weights: C6-07)")
    parser.add_argument("--out", default="docs/runs/cpu", help="parent of the experiment run directories")
    parser.add_argument("--processes", type=int, default=1, metavar="K",
                        help="train each experiment's runs in K processes at once (nnzoo.train's processes)")
    parser.add_argument("--list", action="store_true", help="print the plan (and how far unfinished runs are) and exit")
    parser.add_argument("--publish", action="store_true",
                        help="deprecated: python -m nnzoo.release publish [NAME ...] --out OUT")
    parser.add_argument("--release", metavar="DIR", help="deprecated: python -m nnzoo.release pack DIR")
    args = parser.parse_args(argv)
    if args.release or args.publish:
        verb = ["pack", args.release] if args.release else ["publish", *args.names, "--out", args.out]
        _deprecated(f"stock_zoo.py {'--release' if args.release else '--publish'}",
                    f"python -m nnzoo.release {' '.join(verb)}")
        return release.main(verb)
    names = args.names or [name for name in registry.list_models() if name != "deep_fc_ciresan"]
    for name in names:
        experiment = experiments.get(name) if name in _IDS else experiments.for_weights(name)
        done = release.finished(experiment, Path(args.out), _is_weights_source(experiment))
        print(f"{name}: {experiment.id} x{experiment.runs}{' (done)' if done else _progress(experiment, Path(args.out))}",
              flush=True)
        if done or args.list:
            continue
        if registry.card(experiment.model).is_ensemble:
            _members_from_runs(experiment, Path(args.out))
        runner.run(experiment.id, out=Path(args.out) / experiment.id, processes=args.processes,
                        command=f"python recipes/stock_zoo.py {name} --out {args.out}")
    return 0


_IDS = {experiment.id for experiment in experiments.EXPERIMENTS}


def _deprecated(old, new):
    print(f"note: {old} is deprecated: the release has its own command, {new}", file=sys.stderr, flush=True)


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


if __name__ == "__main__":
    sys.exit(main())
