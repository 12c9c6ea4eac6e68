"""How nnzoo derives every seed from the one a user gives: the runs of a best-of-k, the members of an
ensemble, and each epoch's data order and dropout masks. The formulas are part of what makes a run
reproducible and resumable: changing one changes every recorded run.

Example:

>>> run_seed(0, 2), member_seed(0, 3), epoch_seed(0, 0) == epoch_seed(0, 0), member_seed(None, 1)
(2, 2, True, None)
"""

import numpy as np

__all__ = ["run_seed", "member_seed", "epoch_seed", "start_random_layers"]


def run_seed(seed, index):
    """Run ``index`` (0-based) of a best-of-k started with ``seed``: ``seed + index``, so run 1 of seed 0 is seed 0."""
    return seed + index


def member_seed(seed, index):
    """The seed of member ``index`` (1-based) of an ensemble built with ``seed`` (``None`` stays ``None``).

    Member k is run k of a best-of-k started with the same seed (``run_seed(seed, k - 1)``), and an ensemble
    member trains by its network's own recipe, so the members of ``conv2_dropout_ensemble`` (seed 0) are the
    runs of ``nnzoo.train("conv2_dropout", runs=5)``: trained runs can stand in as members.
    """
    if seed is None:
        return None
    return run_seed(seed, index - 1)


def epoch_seed(seed, epoch):
    """The seed of a run's epoch: its training order (chapters 1-5) and its dropout masks."""
    return int(np.random.SeedSequence([seed, 104729, epoch]).generate_state(1)[0] >> 1)


def start_random_layers(model, seed):
    """Restart the random streams of ``model``'s layers (its dropout masks) from ``seed``, e.g. an epoch's seed.

    A Keras ``SeedGenerator`` keeps its position in memory only: a saved model
    loads with every stream back at its start, so a run resumed from a
    checkpoint would draw the masks of its first epoch again. ``nnzoo.train``
    calls this at the start of every epoch, which makes an epoch's masks a
    function of the layer's seed and the epoch's seed alone: the same whether
    the run was resumed or not, and different in every epoch. Returns how many
    streams were restarted.
    """
    import keras  # noqa: PLC0415  (the formulas above are plain NumPy)

    count = 0
    for layer in model._flatten_layers(include_self=True):
        for generator in getattr(layer, "_seed_generators", ()):
            base = generator._initial_seed
            if base is None:  # an unseeded layer: its stream's own first word, as good as it gets
                base = int(keras.ops.convert_to_numpy(generator.state)[0])
            start = int(np.random.SeedSequence([base, 15485863, seed]).generate_state(1)[0] >> 1)
            generator.state.assign(keras.ops.convert_to_tensor([start, 0], dtype=generator.state.dtype))
            count += 1
    return count
