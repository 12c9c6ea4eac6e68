"""Chapter 5: deeper sigmoid nets (1-4 hidden layers) and the speed of learning of each layer.

C5-01 ... C5-04 train the deep nets the book's way. C5-05 measures ‖∂C/∂bˡ‖ of each hidden layer
right after initialisation; C5-06 tracks it over 500 epochs of full-batch gradient descent on 1,000
training images (the book does not give η for it; 0.1, chapter 5's η, is used) and writes
OUT/C5-06/speeds.json for `nnzoo plot`.

    python recipes/ch5.py [--only C5-01 ...] [--speeds-only] [--out runs/experiments]
"""

import json
import sys
from pathlib import Path

import keras

import nnzoo
from nnzoo import callbacks, data, experiments

SPEED_IMAGES = 1000
SPEED_EPOCHS = 500


def learning_speeds_at_init(train, seed=0):
    """C5-05: ‖∂C/∂bˡ‖ per hidden layer of freshly initialised nets."""
    for name, book in experiments.LEARNING_SPEED_AT_INIT.items():
        speed = callbacks.LayerLearningSpeed((train.x, train.y))
        speed.set_model(nnzoo.build(name, seed=seed))
        measured = ", ".join(f"{s:.3f}" for s in speed.measure())
        print(f"C5-05 {name}: measured {measured}; book {', '.join(map(str, book))}", flush=True)


def learning_speeds_during_training(train, out, epochs=SPEED_EPOCHS, seed=0):
    """C5-06: the speeds over full-batch gradient descent; saved as JSON per network."""
    out.mkdir(parents=True, exist_ok=True)
    record = {}
    for name in experiments.LEARNING_SPEED_AT_INIT:
        keras.utils.set_random_seed(seed)
        model = nnzoo.build(name, seed=seed, n_train=len(train.y))  # network2's λ/n uses this set's size
        speed = callbacks.LayerLearningSpeed((train.x, train.y))
        model.fit(train.x, train.y, batch_size=len(train.y), epochs=epochs, shuffle=False, verbose=0,
                  callbacks=[speed])
        record[name] = {"layers": speed.layer_names, "speeds": speed.speeds}
        first, last = speed.speeds[-1][0], speed.speeds[-1][-1]
        print(f"C5-06 {name}: after {epochs} epochs the first hidden layer learns {last / first:.0f}x slower "
              f"than the last", flush=True)
    (out / "speeds.json").write_text(json.dumps({"epochs": epochs, "images": len(train.y), "eta": 0.1,
                                                 "networks": record}, indent=1))


if __name__ == "__main__":
    speeds_only = "--speeds-only" in sys.argv
    if speeds_only:
        sys.argv.remove("--speeds-only")
    out = Path(sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else experiments.DEFAULT_OUT)
    epochs = SPEED_EPOCHS
    if "--epochs" in sys.argv:
        epochs = int(sys.argv[sys.argv.index("--epochs") + 1])
    if not speeds_only:
        experiments.main([5], __doc__)
    train = data.subset(data.load_split().train, SPEED_IMAGES)
    learning_speeds_at_init(train)
    learning_speeds_during_training(train, out / "C5-06", epochs=epochs)
    sys.exit(0)
