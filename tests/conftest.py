"""Shared fixtures. Real-MNIST fixtures skip only when NNZOO_DATA_DIR is unset;
when it is set, missing or corrupt data fails the tests loudly."""

import os
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for book_reference


@pytest.fixture(scope="session")
def mnist_split():
    from nnzoo import data

    if os.environ.get(data.ENV_VAR) is None:
        pytest.skip(f"{data.ENV_VAR} is not set; real-MNIST tests skipped")
    return data.load_split()


@pytest.fixture
def synthetic_batch():
    """A mini-batch of 10 random images in [0, 1] with labels 0..9."""
    rng = np.random.default_rng(1234)
    x = rng.uniform(0.0, 1.0, size=(10, 28, 28, 1)).astype("float32")
    y = rng.permutation(10).astype("int32")
    return x, y


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    yield
    keras.backend.clear_session()
