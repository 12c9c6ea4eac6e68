"""Regenerate the PNGs of docs/figures/ from the run records and trained models.

Usage (from the repository root):

    NNZOO_DATA_DIR=/path/to/mnist .venv/bin/python docs/figures/make_figures.py [P37 P38 ...]

Without arguments every figure whose inputs exist is drawn; a figure whose
runs or models are missing is skipped with a message. See README.md here for
each figure's inputs.
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
H100 = ROOT / "docs" / "runs" / "h100"
EXPERIMENTS = ROOT / "docs" / "runs" / "cpu"  # committed copies of runs/experiments/ID
GPU = Path(os.environ.get("NNZOO_GPU_RUNS", ROOT / ".gpu" / "runs"))  # the H100 run directories


class Missing(Exception):
    """An input of the figure does not exist (yet)."""


def _need(*paths):
    for path in paths:
        if not Path(path).exists():
            raise Missing(f"{Path(path).relative_to(ROOT)} does not exist")
    return paths


def _finished(experiment_id):
    """The run directory of a chapter 3 experiment, once its experiment.json is written."""
    run_dir = EXPERIMENTS / experiment_id
    _need(run_dir / "experiment.json")
    return run_dir


def p37():
    from nnzoo import plots

    runs = _need(H100 / "conv2", H100 / "conv2_tanh")
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
        best = json.loads(_need(cpu / "summary.json")[0].read_text())["best_run"]
        return cpu / f"run-{best + 1}", json.loads((cpu / "experiment.json").read_text())
    (run,) = _need(H100 / name / "experiment.json")
    return run.parent, json.loads(run.read_text())


def p38():
    from nnzoo import plots

    runs, labels = [], []
    for name, experiment_id, what in LADDER:
        run, record = _reported_run(name, experiment_id)
        runs.append(run)
        labels.append(f"{name}: {what} ({record['measured']['accuracy']:.2f}%; book {record['book']['accuracy']:.2f}%)")
    vote = json.loads(_need(H100 / "conv2_dropout_ensemble" / "vote.json")[0].read_text())
    book = json.loads((H100 / "conv2_dropout_ensemble" / "experiment.json").read_text())["book"]["accuracy"]
    reference = {f"conv2_dropout_ensemble: vote of 5 ({100 * vote['vote_accuracy']:.2f}%; book {book:.2f}%)":
                 vote["vote_accuracy"]}
    return plots.accuracy_curves(runs, metric="test_accuracy", labels=labels, ylim=(97, 99.8),
                                 reference=reference,
                                 title="P38: the chapter 6 ladder, test accuracy per epoch (reported runs)\n"
                                       "legend: reported (test at best validation epoch); book",
                                 out=HERE / "p38_chapter6_ladder.png")


def p35():
    from nnzoo import plots

    (model,) = _need(GPU / "conv2_dropout" / "model.keras")
    return plots.filters(model, out=HERE / "p35_conv2_dropout_filters.png")


def _ensemble_members():
    from nnzoo.export import run_dir_model

    members = []
    for index in range(1, 6):
        member = GPU / "conv2_dropout_ensemble" / f"member-{index}"
        path = run_dir_model(member) if member.is_dir() else None
        if path is None:
            raise Missing(f"{member} has no model.keras or checkpoint-*.keras")
        members.append(path)
    return members


def p34():
    from nnzoo import data, plots

    members = _ensemble_members()
    test = data.load_split(dtype="uint8").test
    fig = plots.misclassified(members, test.x, test.y, out=HERE / "p34_ensemble_errors.png")
    wrong, predicted = fig.nnzoo_wrong
    print(f"  {len(wrong)} errors; test indices {wrong.tolist()}")
    return fig


def p29():
    """From C5-05's record (docs/runs/cpu/C5-05/experiment.json): the speeds at initialisation beside the book's."""
    from nnzoo import plots

    (path,) = _need(EXPERIMENTS / "C5-05" / "experiment.json")
    record = json.loads(path.read_text())
    speeds = {name: values["speeds"][0] for name, values in record["speeds"].items()}
    for name, values in speeds.items():
        print(f"  {name}: {', '.join(f'{s:.3f}' for s in values)}")
    return plots.layer_speeds(speeds, kind="bars", reference=record["book"]["values"],
                              title="P29: speed of learning ‖∂C/∂bˡ‖ at initialisation\n"
                                    "(first 1,000 training images, seed 0; bars measured, black: the book)",
                              out=HERE / "p29_speed_at_init.png")


def p30_p32():
    """From the speeds ``recipes/ch5.py`` records (C5-06) in docs/runs/cpu/C5-06/speeds.json."""
    from nnzoo import plots

    (path,) = _need(EXPERIMENTS / "C5-06" / "speeds.json")
    record = json.loads(path.read_text())
    figures = []
    for number, depth in ((30, 2), (31, 3), (32, 4)):
        name = f"deep_sigmoid_{depth}"
        if name not in record["networks"]:
            raise Missing(f"{path.relative_to(ROOT)} has no {name}")
        speeds = record["networks"][name]["speeds"]
        figures.append(plots.layer_speeds(
            speeds, [f"Hidden layer {i + 1}" for i in range(depth)],
            title=f"P{number}: speed of learning, {depth} hidden layers ({name})\n"
                  f"batch gradient descent on {record['images']:,} images, η = {record['eta']}, "
                  f"{len(speeds) - 1} epochs",
            out=HERE / f"p{number}_speed_{depth}_hidden.png"))
    return figures


def p08_p11():
    from nnzoo import plots

    return plots.overfitting(_finished("C3-07"), out=HERE / "p08-p11_overfitting.png",
                             title="P8-P11: overfitting, network2 on 1,000 images, λ = 0 (C3-07)")


def p12():
    from nnzoo import plots

    return plots.train_vs_test(_finished("C3-08"), out=HERE / "p12_train_vs_test.png",
                               title="P12: training vs test accuracy, 50,000 images, λ = 0 (C3-08)")


def p13_p14():
    from nnzoo import plots

    return plots.overfitting(_finished("C3-09"), out=HERE / "p13-p14_l2_overfitting.png",
                             title="P13/P14: L2 λ = 0.1 on 1,000 images (C3-09)")


def p15():
    from nnzoo import plots

    return plots.train_vs_test(_finished("C3-10"), out=HERE / "p15_l2_train_vs_test.png",
                               title="P15: training vs test accuracy, L2 λ = 5.0, 50,000 images (C3-10)")


def p23():
    from nnzoo import plots

    runs = [_finished("C3-15-large"), _finished("C3-15-default")]
    return plots.accuracy_curves(runs, labels=["old initialisation N(0, 1)", "new initialisation N(0, 1/√n_in)"],
                                 title="P23: old vs new weight initialisation, 30 hidden (C3-15)",
                                 out=HERE / "p23_init.png")


def p25():
    from nnzoo import plots

    etas = ("0.025", "0.25", "2.5")
    runs = [_finished(f"C3-22-eta{eta}") for eta in etas]
    return plots.training_costs(runs, labels=[f"η = {eta}" for eta in etas],
                                title="P25: training cost for three learning rates (C3-22)",
                                out=HERE / "p25_learning_rates.png")


FIGURES = {"P37": p37, "P38": p38, "P35": p35, "P34": p34, "P29": p29, "P30-P32": p30_p32, "P8-P11": p08_p11, "P12": p12,
           "P13-P14": p13_p14, "P15": p15, "P23": p23, "P25": p25}


def main(argv):
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
