"""The book's experiments that are not one network's training run: chapter 1's baselines (C1-05 … C1-07),
chapter 3's accuracy against training-set size (C3-14, the network's and the SVM's curves) and chapter 5's
speed of learning of each layer (C5-05 at initialisation, C5-06 during training).

``nnzoo.runner.run(ID)`` calls ``run`` here for these rows; each writes ``OUT/experiment.json`` in the
format of a training row's record (``measured`` beside ``book``, hardware, wall time, command), plus what
it measured in full (``curves``, ``speeds``), which ``nnzoo.results`` renders.

Example:

>>> from nnzoo import studies
>>> studies.run("C1-06", out="runs/experiments/C1-06")  # doctest: +SKIP
{'id': 'C1-06', ..., 'measured': {'accuracy': 22.25, 'split': 'test', 'report': 'peak'}, ...}
"""

import json
import time
from pathlib import Path

import numpy as np

from nnzoo import baselines, data, records, rundir

__all__ = ["run", "SIZES", "SPEED_IMAGES", "SPEED_EPOCHS", "SPEED_ETA"]

#: C3-14's training-set sizes (the book does not list its own).
SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
_FULL_SIZE = 50_000
#: C5-06: full-batch gradient descent on the first 1,000 training images for 500 epochs (the book gives no η;
#: chapter 5's 0.1 is used).
SPEED_IMAGES, SPEED_EPOCHS, SPEED_ETA = 1_000, 500, 0.1
_SPEED_NETWORKS = ("deep_sigmoid_2", "deep_sigmoid_3", "deep_sigmoid_4")
_FULL_EPOCHS = {"C3-14": 30, "C5-06": SPEED_EPOCHS}  # the book's; C3-14's at 50,000 images


def run(experiment, out, *, book=None, seed=0, command=None, epochs=None, subset=None, log=print):
    """Run one of these experiments and write ``out/experiment.json``; return the record.

    ``epochs`` and ``subset`` shrink it for a smoke test (recorded as a reduced
    budget): ``epochs`` is C3-14's epochs at 50,000 images (the book's 30) or
    C5-06's epochs (500); ``subset`` keeps C3-14's sizes up to n images and
    trains C1-07's SVM and C5-05/C5-06's nets on the first n images.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    measured, extra = _RUNNERS[experiment.kind](experiment, out, seed, epochs, subset, log)
    full = _FULL_EPOCHS.get(experiment.id)
    reduced = "; ".join(filter(None, [f"{epochs} of {full} epochs" if full and epochs and epochs < full else "",
                                      f"subset of {subset} images" if subset else ""])) or None
    record = records.write(out, records.record(
        experiment, book=book, measured=measured, seeds=[seed], runs=1, reduced_budget=reduced,
        command=command or f"nnzoo reproduce {experiment.id}", wall_time_s=time.perf_counter() - started,
        kind=experiment.kind, **extra,
    ))
    flag = f"  [reduced budget: {reduced}]" if reduced else ""
    log(f"{experiment.id} {experiment.title}: measured {_text(measured)}, book {_text(record['book'])}{flag}")
    return record


def _text(number):
    return records.number_text(number, split=True) or "–"


def _baseline(experiment, out, seed, epochs, subset, log):
    split = data.load_split()
    train, test = (data.subset(split.train, subset), data.subset(split.test, subset)) if subset else (split.train, split.test)
    if experiment.id == "C1-05":
        return _accuracy(baselines.random_guess(test, seed=seed), "test"), {}
    if experiment.id == "C1-06":
        return _accuracy(baselines.average_darkness(train, test), "test"), {}
    book_day = baselines.svm(train, test, gamma="auto")
    log(f"{experiment.id}: SVC(gamma='auto') {100 * book_day:.2f}%")
    today = baselines.svm(train, test)
    log(f"{experiment.id}: SVC() {100 * today:.2f}%")
    extra = {"also": {"SVC() with today's defaults (gamma='scale')": round(100 * today, 2)}}
    return _accuracy(book_day, "test"), extra


def _size_curve(experiment, out, seed, epochs, subset, log):
    """C3-14 (and C3-13's curve): network2 and the SVM trained on the first n images, scored on validation."""
    split = data.load_split()
    full_epochs = epochs or 30
    sizes = [n for n in SIZES if n <= subset] or [subset] if subset else list(SIZES)
    curves = {"network": {}, "SVM": {}}
    for size in sizes:
        curves["network"][str(size)] = round(100 * _network_at_size(split, size, seed, full_epochs), 2)
        curves["SVM"][str(size)] = round(100 * baselines.svm(data.subset(split.train, size), split.validation,
                                                              gamma="auto"), 2)
        log(f"C3-14 {size:,} images: network {curves['network'][str(size)]:.2f}%, SVM {curves['SVM'][str(size)]:.2f}%")
    largest = str(max(sizes))
    extra = {"curves": curves, "scored_on": "validation", "full_epochs": full_epochs,
             "note_on_recipe": "network2 [784, 30, 10]: 30 epochs and λ = 5.0 at 50,000 images, epochs × 50,000/n "
                               "and λ × n/50,000 for n images, reshuffled every epoch; SVM: SVC(gamma='auto')"}
    return _accuracy(curves["SVM"][largest] / 100, "validation"), extra


def _network_at_size(split, size, seed, full_epochs):
    import keras  # noqa: PLC0415

    from nnzoo import registry  # noqa: PLC0415
    from nnzoo.epoch import fit_epoch  # noqa: PLC0415

    settings = {key: value for key, value in registry.card("network2").recipe.items() if key not in ("epochs", "data")}
    settings.update(lmbda=5.0 * size / _FULL_SIZE, n_train=size)
    model = registry.build("network2", seed=seed, **settings)
    x, y = (keras.ops.convert_to_tensor(values[:size]) for values in split.train)
    rng = np.random.default_rng(seed)
    for _ in range(max(1, full_epochs * _FULL_SIZE // size)):
        fit_epoch(model, x, y, order=rng.permutation(size), batch_size=settings["batch_size"])
    return data.accuracy(model.predict(split.validation.x, batch_size=1000, verbose=0), split.validation.y)


def _learning_speed(experiment, out, seed, epochs, subset, log):
    """C5-05: ‖∂C/∂bˡ‖ of each hidden layer at initialisation; C5-06: the same over full-batch gradient descent."""
    import keras  # noqa: PLC0415

    from nnzoo import callbacks, registry  # noqa: PLC0415

    images = min(subset or SPEED_IMAGES, SPEED_IMAGES)
    train = data.subset(data.load_split().train, images)
    epochs = (epochs or SPEED_EPOCHS) if experiment.id == "C5-06" else 0
    speeds = {}
    for name in _SPEED_NETWORKS:
        keras.utils.set_random_seed(seed)
        model = registry.build(name, seed=seed, n_train=len(train.y), eta=SPEED_ETA)  # λ/n of this set's size
        speed = callbacks.LayerLearningSpeed((train.x, train.y))
        if epochs:
            model.fit(train.x, train.y, batch_size=len(train.y), epochs=epochs, shuffle=False, verbose=0,
                      callbacks=[speed])
        else:
            speed.set_model(model)
            speed.speeds.append(speed.measure())
        speeds[name] = {"layers": speed.layer_names, "speeds": [[float(s) for s in row] for row in speed.speeds]}
        log(f"{experiment.id} {name}: " + ", ".join(f"{s:.3f}" for s in speeds[name]["speeds"][-1]))
    if epochs:
        last = speeds["deep_sigmoid_4"]["speeds"][-1]
        measured = {"values": {"first/last hidden layer speed, 4 hidden layers": round(last[-1] / last[0], 1)}}
        rundir.write_bytes(out / "speeds.json", json.dumps({"epochs": epochs, "images": images, "eta": SPEED_ETA,
                                                            "networks": speeds}, indent=1).encode())
    else:
        measured = {"values": {name: [round(s, 3) for s in speeds[name]["speeds"][0]] for name in speeds}}
    extra = {"speeds": speeds, "epochs": epochs, "images": images, "eta": SPEED_ETA}
    return measured, extra


def _accuracy(fraction, split):
    return {"accuracy": round(100 * fraction, 2), "split": split, "report": "peak"}


_RUNNERS = {"baseline": _baseline, "size_curve": _size_curve, "learning_speed": _learning_speed}
