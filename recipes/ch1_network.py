"""Chapter 1: the book's first network on real MNIST, measured against the book.

[784, 30, 10] sigmoid neurons, quadratic cost, N(0, 1) initialisation, SGD with
η = 3.0 and mini-batches of 10, reshuffled every epoch, 30 epochs; the test
accuracy is printed after every epoch, as ``network.py`` does (experiment C1-01;
``--model shallow_sigmoid_100`` runs C1-02). The book reports the peak epoch of
the best of three runs; this script runs one (``--seed``).

    python recipes/ch1_network.py [--model shallow_sigmoid] [--epochs 30] [--seed 0] [-v]
"""

import argparse
import time

import nnzoo  # first: a recipe hides TensorFlow's start-up lines (nnzoo.quiet) before TensorFlow loads
import keras
import numpy as np

from nnzoo import data, registry
from nnzoo.epoch import fit_epoch, single_threaded_ops
from nnzoo.experiments import book_for
from nnzoo.recipe import Recipe


def test_count(model, test):
    """How many test images the network classifies correctly, as network.py's evaluate."""
    predictions = model.predict(test.x, batch_size=1000, verbose=0)
    return int(np.sum(np.argmax(predictions, axis=1) == test.y))


def main():
    single_threaded_ops()  # faster at mini-batch 10; NNZOO_INTRA_OP_THREADS=0 keeps TF's default
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="shallow_sigmoid", choices=["shallow_sigmoid", "shallow_sigmoid_100"])
    parser.add_argument("--epochs", type=int, default=None, help="default: the card's (30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true", help="also TensorFlow's start-up lines")
    args = parser.parse_args()

    card = nnzoo.card(args.model)
    epochs = args.epochs or card.recipe["epochs"]
    try:
        split = data.load_split()
    except data.DataError as err:  # no data and no network: the message says how to provide the files
        raise SystemExit(f"ch1_network.py: {err}") from None
    keras.utils.set_random_seed(args.seed)
    model = nnzoo.build(args.model, seed=args.seed)
    print(f"{args.model}: {card.summary}\nbook: {card.book_call}")
    # The training set goes to TensorFlow once; each epoch is one compiled loop over a fresh permutation.
    x, y = (keras.ops.convert_to_tensor(values) for values in split.train)
    shuffle = np.random.default_rng(args.seed)
    started, counts = time.perf_counter(), []
    for epoch in range(epochs):
        fit_epoch(model, x, y, order=shuffle.permutation(len(split.train.y)), batch_size=card.recipe["batch_size"])
        counts.append(test_count(model, split.test))
        print(f"Epoch {epoch}: {counts[-1]} / {len(split.test.y)}   ({time.perf_counter() - started:.0f} s)",
              flush=True)

    best = int(np.argmax(counts))
    measured = 100 * counts[best] / len(split.test.y)
    book = card.book_result
    print(f"\nmeasured: {measured:.2f}% test accuracy at its peak (epoch {best} of {epochs}, seed {args.seed}, "
          f"{time.perf_counter() - started:.0f} s)")
    print(f"book:     {book.accuracy:.2f}% ({book.protocol}; {book.experiment}, {book.source}, "
          f"{registry.book_url(1)})")
    compared = book_for(Recipe(args.model, epochs=epochs), book.experiment)
    if compared.differences:  # an honest comparison says how this run's recipe differs from the book's
        print(f"differs:  {compared.differences_text()} (this run vs the book's)")


if __name__ == "__main__":
    main()
