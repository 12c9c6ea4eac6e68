"""The book's figures that are drawn from the experiments' records alone: which experiments each needs, and
how it is drawn (``nnzoo.plots``, needs matplotlib).

``nnzoo reproduce --figures DIR`` draws the figures whose experiments it has records of;
``docs/figures/make_figures.py`` draws these and the chapter 6 figures that need trained models.

Example:

>>> from nnzoo import figures
>>> figures.for_experiments(["C3-07", "C3-22-eta0.025"])
['P8-P11']
>>> figures.draw("P8-P11", runs="docs/runs/cpu", out="docs/figures")  # doctest: +SKIP
[PosixPath('docs/figures/p08-p11_overfitting.png')]
"""

from pathlib import Path

from nnzoo import records

__all__ = ["FIGURES", "for_experiments", "draw", "size_curves"]


def _overfitting(number, experiment_id, title, file):
    def figure(runs, out, plots):
        plots.overfitting(runs / experiment_id, out=out / file, title=f"{number}: {title} ({experiment_id})")
        return [out / file]
    return figure


def _train_vs_test(number, experiment_id, title, file):
    def figure(runs, out, plots):
        plots.train_vs_test(runs / experiment_id, out=out / file, title=f"{number}: {title} ({experiment_id})")
        return [out / file]
    return figure


def _p23(runs, out, plots):
    file = out / "p23_init.png"
    plots.accuracy_curves([runs / "C3-15-large", runs / "C3-15-default"],
                          labels=["old initialisation N(0, 1)", "new initialisation N(0, 1/√n_in)"],
                          title="P23: old vs new weight initialisation, 30 hidden (C3-15)", out=file)
    return [file]


_ETAS = ("0.025", "0.25", "2.5")


def _p25(runs, out, plots):
    file = out / "p25_learning_rates.png"
    plots.training_costs([runs / f"C3-22-eta{eta}" for eta in _ETAS], labels=[f"η = {eta}" for eta in _ETAS],
                         title="P25: training cost for three learning rates (C3-22)", out=file)
    return [file]


def _p18_p19(runs, out, plots):
    return size_curves(_record(runs / "C3-14"), out, plots)


def size_curves(record, out, plots=None):
    """P18 (linear) and P19 (log) from a C3-14 record: both curves, and the book's two quoted points (the
    network's at 5,000 images is C3-13's number, the SVM's at 50,000 is C3-14's)."""
    from nnzoo import data, experiments  # noqa: PLC0415

    if plots is None:
        from nnzoo import plots  # noqa: PLC0415  (matplotlib)
    out = Path(out)
    curves = {label: {int(size): value for size, value in curve.items()} for label, curve in record["curves"].items()}
    network_point = experiments.get("C3-13")
    reference = {"book: network": (data.parse_spec(network_point.data)[1], network_point.book.accuracy),
                 "book: SVM": (50_000, record["book"]["accuracy"])}
    files = [out / "p18_accuracy_vs_size.png", out / "p19_accuracy_vs_size_log.png"]
    plots.accuracy_vs_size(curves, reference=reference, out=files[0])
    plots.accuracy_vs_size(curves, log_x=True, reference=reference, out=files[1])
    return files


def _p29(runs, out, plots):
    record = _record(runs / "C5-05")
    speeds = {name: values["speeds"][0] for name, values in record["speeds"].items()}
    file = out / "p29_speed_at_init.png"
    plots.layer_speeds(speeds, kind="bars", reference=record["book"]["values"],
                       title="P29: speed of learning ‖∂C/∂bˡ‖ at initialisation\n"
                             f"(first {record['images']:,} training images, seed {record['seeds'][0]}; "
                             "bars measured, black: the book)", out=file)
    return [file]


def _p30_p32(runs, out, plots):
    record = _record(runs / "C5-06")
    files = []
    for number, depth in ((30, 2), (31, 3), (32, 4)):
        name = f"deep_sigmoid_{depth}"
        speeds = record["speeds"][name]["speeds"]
        files.append(out / f"p{number}_speed_{depth}_hidden.png")
        plots.layer_speeds(speeds, [f"Hidden layer {i + 1}" for i in range(depth)],
                           title=f"P{number}: speed of learning, {depth} hidden layers ({name})\n"
                                 f"batch gradient descent on {record['images']:,} images, η = {record['eta']}, "
                                 f"{len(speeds) - 1} epochs", out=files[-1])
    return files


def _record(run_dir):
    return records.read(run_dir)


#: figure -> (the experiments it is drawn from, how)
FIGURES = {
    "P8-P11": (("C3-07",), _overfitting("P8-P11", "C3-07", "overfitting, network2 on 1,000 images, λ = 0",
                                        "p08-p11_overfitting.png")),
    "P12": (("C3-08",), _train_vs_test("P12", "C3-08", "training vs test accuracy, 50,000 images, λ = 0",
                                       "p12_train_vs_test.png")),
    "P13-P14": (("C3-09",), _overfitting("P13/P14", "C3-09", "L2 λ = 0.1 on 1,000 images",
                                         "p13-p14_l2_overfitting.png")),
    "P15": (("C3-10",), _train_vs_test("P15", "C3-10", "training vs test accuracy, L2 λ = 5.0, 50,000 images",
                                       "p15_l2_train_vs_test.png")),
    "P18-P19": (("C3-14",), _p18_p19),
    "P23": (("C3-15-large", "C3-15-default"), _p23),
    "P25": (tuple(f"C3-22-eta{eta}" for eta in _ETAS), _p25),
    "P29": (("C5-05",), _p29),
    "P30-P32": (("C5-06",), _p30_p32),
}


def for_experiments(ids):
    """The figures all of whose experiments are among ``ids``, in the book's order."""
    ids = set(ids)
    return [name for name, (sources, _) in FIGURES.items() if set(sources) <= ids]


def draw(name, *, runs, out):
    """Draw one figure from the records under ``runs`` (``runs/ID/experiment.json`` and its run files) into
    ``out``; return the files written. A missing record is a FileNotFoundError naming it."""
    from nnzoo import plots  # noqa: PLC0415  (matplotlib)

    if name not in FIGURES:
        raise ValueError(f"Unknown figure. Received: {name!r}. Expected one of {list(FIGURES)}.")
    sources, figure = FIGURES[name]
    runs, out = Path(runs), Path(out)
    for experiment_id in sources:
        if not (runs / experiment_id / records.FILE).is_file():
            raise FileNotFoundError(f"{name} needs {runs / experiment_id / 'experiment.json'}: "
                                    f"nnzoo reproduce {experiment_id} --out {runs}")
    out.mkdir(parents=True, exist_ok=True)
    return figure(runs, out, plots)
