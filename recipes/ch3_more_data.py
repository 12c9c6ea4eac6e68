"""C3-13 / C3-14: accuracy against training-set size, the network and (with --svm) the SVM.

Chapter 3 trains its [784, 30, 10] cross-entropy network on the first n training
images for several n, with the 50,000-image recipe's 30 epochs scaled up to
30 * 50,000 / n and λ = 5.0 scaled down to 5.0 * n / 50,000, and scores each
trained net once, at the end; the SVM gets the same subsets with scikit-learn's
defaults of the book's day (gamma="auto"). The book plots the curves (P18, P19)
and quotes two points: the network at 5,000 images (93.24%) and the SVM at
50,000 (94.48%).

    python recipes/ch3_more_data.py [--sizes 100 1000 ...] [--svm] [--json OUT] [--plot DIR] [--full-epochs N]
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

import nnzoo
from nnzoo import baselines, data, experiments
from nnzoo.epoch import fit_epoch, single_threaded_ops
from nnzoo.training import load_data

SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
BOOK = {"network": (5_000, 93.24), "SVM": (50_000, 94.48)}  # Chapter 3, “An aside on big data and what it means to compare classification accuracies”
FULL_SIZE, FULL_EPOCHS, FULL_LMBDA = 50_000, 30, 5.0


def train_network(split, size, seed, full_epochs=FULL_EPOCHS):
    recipe = {key: value for key, value in experiments.get("C3-13").recipe().items() if key not in ("epochs", "data")}
    recipe.update(lmbda=FULL_LMBDA * size / FULL_SIZE, n_train=size)
    model = nnzoo.build("network2", seed=seed, **recipe)
    x, y = (keras.ops.convert_to_tensor(values[:size]) for values in split.train)
    rng = np.random.default_rng(seed)
    for _ in range(max(1, full_epochs * FULL_SIZE // size)):
        order = rng.permutation(size)  # reshuffled every epoch, as network2 does
        fit_epoch(model, x, y, order=order, batch_size=recipe["batch_size"])
    predictions = model.predict(split.validation.x, batch_size=1000, verbose=0)
    return round(100 * float(np.mean(np.argmax(predictions, axis=1) == split.validation.y)), 2)


def main():
    single_threaded_ops()  # faster at mini-batch 10; NNZOO_INTRA_OP_THREADS=0 keeps TF's default
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--svm", action="store_true", help="also the SVM curve (scikit-learn; ~10 minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-epochs", type=int, default=FULL_EPOCHS,
                        help="epochs at 50,000 images, scaled up for smaller sets (the book's 30; fewer for a smoke test)")
    parser.add_argument("--json", type=Path, help="write the curves here")
    parser.add_argument("--plot", type=Path, help="write P18 (linear) and P19 (log) PNGs into this directory")
    args = parser.parse_args()
    split = load_data("mnist")
    curves = {"network": {}, **({"SVM": {}} if args.svm else {})}
    raw = data.load_split() if args.svm else None  # the SVM's inputs, as in the chapter 1 baseline
    for size in args.sizes:
        started = time.perf_counter()
        curves["network"][size] = train_network(split, size, args.seed, args.full_epochs)
        line = f"{size:6,d} images: network {curves['network'][size]:.2f}% ({time.perf_counter() - started:.0f} s)"
        if args.svm:
            started = time.perf_counter()
            curves["SVM"][size] = round(100 * baselines.svm(data.subset(raw.train, size), raw.validation, gamma="auto"), 2)
            line += f", SVM {curves['SVM'][size]:.2f}% ({time.perf_counter() - started:.0f} s)"
        print(line, flush=True)
    for label, (size, accuracy) in BOOK.items():
        if size in curves.get(label, {}):
            print(f"{label} at {size:,} images: measured {curves[label][size]:.2f}%, book {accuracy:.2f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "scored_on": "validation",
                                         "full_epochs": args.full_epochs, "curves": curves},
                                        indent=2))
    if args.plot:
        from nnzoo import plots

        reference = {f"book: {label}": point for label, point in BOOK.items() if label in curves}
        plots.accuracy_vs_size(curves, reference=reference, out=args.plot / "p18_accuracy_vs_size.png")
        plots.accuracy_vs_size(curves, log_x=True, reference=reference, out=args.plot / "p19_accuracy_vs_size_log.png")


if __name__ == "__main__":
    main()
