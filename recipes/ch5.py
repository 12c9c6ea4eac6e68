"""Chapter 5: deeper sigmoid nets (1-4 hidden layers) and each layer's speed of learning at initialisation.

    python recipes/ch5.py [--only C5-01 ...] [--speeds-only] [--out runs/experiments]
"""

import sys

import nnzoo
from nnzoo import callbacks, data, experiments


def learning_speeds_at_init(seed=0):
    """C5-05: ‖∂C/∂bˡ‖ per hidden layer of freshly initialised nets, on the first 1,000 images."""
    train = data.subset(data.load_split().train, 1000)
    for name, book in experiments.LEARNING_SPEED_AT_INIT.items():
        speed = callbacks.LayerLearningSpeed((train.x, train.y))
        speed.set_model(nnzoo.build(name, seed=seed))
        measured = ", ".join(f"{s:.3f}" for s in speed.measure())
        print(f"C5-05 {name}: measured {measured}; book {', '.join(map(str, book))}", flush=True)


if __name__ == "__main__":
    if "--speeds-only" in sys.argv:
        sys.argv.remove("--speeds-only")
    else:
        experiments.main([5], __doc__)
    learning_speeds_at_init()
    sys.exit(0)
