"""Regenerate the PNGs of docs/figures/ from the run records and trained models.

Usage (from the repository root):

    NNZOO_DATA_DIR=/path/to/mnist .venv/bin/python docs/figures/make_figures.py [P37 P38 ...]

Without arguments every figure whose inputs exist is drawn; a figure whose
runs or models are missing is skipped with a message. See README.md here for
each figure's inputs.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
H100 = ROOT / "docs" / "runs" / "h100"
EXPERIMENTS = ROOT / "docs" / "runs" / "cpu"  # the committed run records, one directory per experiment


class Missing(Exception):
    """An input of the figure does not exist (yet)."""


def _need(*paths):
    for path in paths:
        if not Path(path).exists():
            raise Missing(f"{Path(path).relative_to(ROOT)} does not exist")
    return paths


def p37():
    from nnzoo import plots

    runs = [_reported_run("conv2", "C6-04")[0], _reported_run("conv2_tanh", "C6-05")[0]]
    return plots.accuracy_curves(runs, labels=["sigmoid (conv2)", "tanh (conv2_tanh)"], ylim=(96, 99.5),
                                 title="P37: tanh vs sigmoid, validation accuracy per epoch",
                                 out=HERE / "p37_tanh_vs_sigmoid.png")


LADDER = (
    ("shallow_softmax", "C6-01", "[784, 100, 10] softmax"),
    ("conv1", "C6-02", "1 conv-pool + FC 100"),
    ("conv2", "C6-04", "2 conv-pool + FC 100"),
    ("conv2_relu", "C6-06", "2 conv-pool, ReLU, L2"),
    ("conv2_dropout", "C6-11", "ReLU, expanded data, dropout, 2 × FC 1000"),
)


def _reported_run(name, experiment_id):
    """The run an experiment's number comes from, and its record: the best of the CPU runs under
    docs/runs/cpu/ID when they exist, else the single H100 run."""
    cpu = EXPERIMENTS / experiment_id
    if (cpu / "experiment.json").exists():
        from nnzoo import rundir

        _need(cpu / rundir.SUMMARY)
        return rundir.best_run_dir(cpu), json.loads((cpu / "experiment.json").read_text())
    (run,) = _need(H100 / name / "experiment.json")
    return run.parent, json.loads(run.read_text())


def p38():
    from nnzoo import plots

    runs, labels = [], []
    for name, experiment_id, what in LADDER:
        run, record = _reported_run(name, experiment_id)
        runs.append(run)
        labels.append(f"{name}: {what} ({record['measured']['accuracy']:.2f}%; book {record['book']['accuracy']:.2f}%)")
    vote = json.loads(_need(EXPERIMENTS / "C6-12" / "experiment.json")[0].read_text())
    measured, book = vote["measured"]["accuracy"], vote["book"]["accuracy"]
    reference = {f"conv2_dropout_ensemble: vote of 5 ({measured:.2f}%; book {book:.2f}%)": measured / 100}
    return plots.accuracy_curves(runs, metric="test_accuracy", labels=labels, ylim=(97, 99.8),
                                 reference=reference,
                                 title="P38: the chapter 6 ladder, test accuracy per epoch (reported runs)\n"
                                       "legend: reported (test at best validation epoch); book",
                                 out=HERE / "p38_chapter6_ladder.png")


def p35():
    import nnzoo
    from nnzoo import plots

    model = nnzoo.build("conv2_dropout", weights="mnist")  # the shipped weights: C6-11's reported run
    return plots.filters(model, out=HERE / "p35_conv2_dropout_filters.png")


def p34():
    import nnzoo
    from nnzoo import data, plots

    ensemble = nnzoo.build("conv2_dropout_ensemble", weights="mnist")  # the shipped weights: C6-12's members
    try:
        test = data.load_split(dtype="uint8").test
    except data.DataError as error:  # no NNZOO_DATA_DIR and no download
        raise Missing(f"real MNIST: {error}") from error
    fig = plots.misclassified(ensemble, test.x, test.y, out=HERE / "p34_ensemble_errors.png")
    wrong, predicted = fig.nnzoo_wrong
    print(f"  {len(wrong)} errors; test indices {wrong.tolist()}")
    return fig


FIGURES = {"P37": p37, "P38": p38, "P35": p35, "P34": p34}


def _from_records(name):
    """A figure drawn from the experiments' records alone (``nnzoo.figures``), from docs/runs/cpu."""
    def figure():
        from nnzoo import figures

        sources, _ = figures.FIGURES[name]
        _need(*(EXPERIMENTS / experiment_id / "experiment.json" for experiment_id in sources))
        return figures.draw(name, runs=EXPERIMENTS, out=HERE)
    return figure


def _record_figures():
    from nnzoo import figures

    return {name: _from_records(name) for name in figures.FIGURES}


def main(argv):
    FIGURES.update(_record_figures())
    wanted = argv or list(FIGURES)
    unknown = [name for name in wanted if name not in FIGURES]
    if unknown:
        print(f"unknown figures {unknown}; choose from {list(FIGURES)}", file=sys.stderr)
        return 2
    for name in wanted:
        try:
            FIGURES[name]()
            print(f"{name}: written")
        except Missing as missing:
            print(f"{name}: skipped ({missing})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
