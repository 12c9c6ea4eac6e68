"""Every SavedModel shipped under savedmodels/ still scores what its card says.

Loaded in a fresh process that never imports nnzoo, served through the
``serving_default`` signature, on the 10,000 official test images.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.parent for p in ROOT.glob("savedmodels/*/*/saved_model.pb"))


def test_something_is_shipped():
    assert SHIPPED, "savedmodels/ should ship at least one trained model"


@pytest.mark.parametrize("version_dir", SHIPPED, ids=[f"{p.parent.name}/{p.name}" for p in SHIPPED])
def test_shipped_model_scores_its_cards_accuracy(version_dir, mnist_split, tmp_path):
    card = json.loads((version_dir / "assets.extra" / "nnzoo_card.json").read_text())
    script = textwrap.dedent(f"""
        import sys, json, numpy as np, tensorflow as tf
        x = np.load(sys.argv[1]); y = np.load(sys.argv[2])
        serve = tf.saved_model.load({str(version_dir)!r}).signatures["serving_default"]
        digits = np.concatenate([serve(image=tf.constant(x[i:i + 1000]))["digit"].numpy()
                                 for i in range(0, len(x), 1000)])
        assert "nnzoo" not in sys.modules
        print(json.dumps(float(np.mean(digits == y))))
    """)
    np.save(tmp_path / "x.npy", mnist_split.test.x)
    np.save(tmp_path / "y.npy", mnist_split.test.y)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy = json.loads(result.stdout.strip().splitlines()[-1])
    assert accuracy == pytest.approx(card["test_accuracy"], abs=1e-4)
