"""Score an ensemble's plurality vote from its members' latest saved models.

``nnzoo train conv2_dropout_ensemble`` votes once every member has finished. This
script votes with whatever each member directory holds now (its ``model.keras``,
else its latest ``checkpoint-EPOCH.keras``), e.g. when the members were trained
in parallel as separate runs and stopped early. It prints each member's test
accuracy, the vote's, and the number of test images the vote gets wrong.

    python recipes/ensemble_vote.py RUN_DIR [--json OUT.json] [-v]
"""

import argparse
import json
from pathlib import Path

import nnzoo  # noqa: F401  (first: hides TensorFlow's start-up lines; registers the saved models' custom objects)
import keras
import numpy as np

from nnzoo import data, layers, rundir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("-v", "--verbose", action="store_true", help="also TensorFlow's start-up lines")
    args = parser.parse_args()
    try:
        test = data.load_split().test
    except data.DataError as err:  # no data: the message says how to provide it, without a traceback
        raise SystemExit(f"ensemble_vote.py: {err}") from None
    members, probabilities = [], []
    for member in rundir.RunDir(args.run_dir).members():
        member_dir, path = member.path, member.latest_model_file()  # what the vote was measured on
        if path is None:
            raise SystemExit(f"{member_dir} holds no {' or '.join(rundir.MODEL_FILES)}")
        epochs = None if path == member.model_file else int(path.stem.split("-")[-1])
        model = keras.models.load_model(path)
        p = model.predict(test.x, batch_size=1000, verbose=0)
        probabilities.append(p)
        accuracy = data.accuracy(p, test.y)
        members.append({"member": member_dir.name, "model": str(path), "epochs": epochs, "test_accuracy": accuracy})
        print(f"{member_dir.name}: {path.name} test accuracy {accuracy:.2%}")
    wrong = int(np.sum(layers.vote(probabilities) != test.y))
    vote_accuracy = 1 - wrong / len(test.y)
    print(f"plurality vote of {len(members)}: {vote_accuracy:.2%} ({wrong} of {len(test.y)} test images wrong)")
    if args.json:
        args.json.write_text(json.dumps({"members": members, "vote_accuracy": vote_accuracy, "wrong": wrong},
                                        indent=2))


if __name__ == "__main__":
    main()
