"""The compiled epoch under Keras's JAX backend, the one the chapter 6 GPU runs use.

The backend is fixed when Keras is imported, so these tests run the epoch tests
again in a fresh pytest process with ``KERAS_BACKEND=jax``: ``jax.jit`` around
``lax.fori_loop``, several runs in lockstep (``jax.vmap``), the L2 penalty as
weight decay, and the book-oracle checks, on JAX's CPU build.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


# Three parts of about a minute or two each, so that pytest -n spreads them over its workers. The first two
# split test_epoch.py by one expression and its negation, so together they run all of it.
FIRST_EPOCH_PART = "lockstep or order"
PARTS = {
    "lockstep-and-orders": [str(TESTS / "test_epoch.py"), "-k", FIRST_EPOCH_PART],
    "the-other-epoch-tests": [str(TESTS / "test_epoch.py"), "-k", f"not ({FIRST_EPOCH_PART})"],
    "training": [str(TESTS / "test_training.py") + "::test_runs_trained_together_equal_runs_trained_alone",
                 str(TESTS / "test_training.py") + "::test_resumed_run_matches_an_uninterrupted_one"],
}


@pytest.mark.parametrize("part", sorted(PARTS))
def test_the_epoch_tests_pass_under_jax(part):
    import jax  # noqa: F401  (installed with the test extra; a missing JAX fails here, loudly)

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PARTS[part]],
        capture_output=True, text=True, cwd=TESTS.parent,
        env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"under JAX: {summary}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert " passed" in summary and not re.search(r"\b\d+ (failed|errors?)\b", summary), summary
