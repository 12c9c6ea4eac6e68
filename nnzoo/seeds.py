"""How nnzoo derives every seed from the one a user gives: the runs of a best-of-k, the members of an
ensemble, and each epoch's data order and dropout masks. The formulas are part of what makes a run
reproducible and resumable: changing one changes every recorded run.

Example:

>>> run_seed(0, 2), epoch_seed(0, 0) == epoch_seed(0, 0), member_seed(None, 1)
(2, True, None)
"""

import numpy as np

__all__ = ["run_seed", "member_seed", "epoch_seed"]


def run_seed(seed, index):
    """Run ``index`` (0-based) of a best-of-k started with ``seed``: ``seed + index``, so run 1 of seed 0 is seed 0."""
    return seed + index


def member_seed(seed, index):
    """The seed of member ``index`` (1-based) of an ensemble built with ``seed`` (``None`` stays ``None``)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, 7919, index]).generate_state(1)[0] >> 1)


def epoch_seed(seed, epoch):
    """The seed of a run's epoch: its training order (chapters 1-5) and its dropout masks."""
    return int(np.random.SeedSequence([seed, 104729, epoch]).generate_state(1)[0] >> 1)
