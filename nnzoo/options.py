"""Which settings are which, and their validation before anything is built or trained.

The one list of keys: a model override (``MODEL_RECIPE_KEYS`` and the card's architecture: what ``nnzoo.build``
takes) or a training setting (``TRAINING_KEYS``: what ``nnzoo.recipe.Recipe`` keeps apart and ``nnzoo.train``
takes besides). Each check says what it received, what it expected and how to fix it.
"""

import math

# The values a choice takes, here so that a Recipe is checked without Keras (``nnzoo info`` reads the
# experiments table without TensorFlow); losses.COSTS, initializers.INITS and regularizers.REGULARIZATIONS
# implement exactly these (tests/test_recipe.py checks it).
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
COSTS = ("quadratic", "cross_entropy", "log_likelihood")
INITS = ("large", "default", "network3")
REGULARIZATIONS = ("l2", "l1")

# The card-recipe entries that shape the compiled model (with the card's architecture: model_keys).
MODEL_RECIPE_KEYS = ("cost", "init", "eta", "lmbda", "regularization", "n_train", "batch_size")
# The settings of a training, not of the model: a Recipe's own fields, the evaluation subset, η's decay and
# the run's seed (``eta_final`` may also stand among a Recipe's overrides, as on a card's recipe).
TRAINING_KEYS = ("epochs", "data", "runs", "protocol", "n_validation", "n_test", "monitor", "eta_final", "seed",
                 "shuffle")
# What build takes besides the model keys.
EXTRA_KEYS = ("seed", "compile")
BUILD_RECIPE_KEYS = MODEL_RECIPE_KEYS  # the older names of the lists above
TRAINING_ONLY_KEYS = tuple(key for key in TRAINING_KEYS if key not in EXTRA_KEYS)


def model_keys(model_card):
    """The keys ``nnzoo.build`` takes for ``model_card`` besides seed and compile: its architecture and
    ``MODEL_RECIPE_KEYS``."""
    return (*model_card.architecture, *MODEL_RECIPE_KEYS)


def model_settings(model_card, settings):
    """The model part of a flat dict of settings (a run's resolved recipe): what ``nnzoo.build`` takes."""
    keys = model_keys(model_card)
    return {key: value for key, value in settings.items() if key in keys}


def check_recipe_overrides(model_card, overrides):
    """A Recipe's overrides, checked once: model overrides and ``eta_final``, each value validated (lists read
    as tuples, numbers as floats where the model takes floats). Returns the checked dict."""
    for key in ("compile", "seed"):
        if key in overrides:
            raise ValueError(f"{key} is not a model override of train. Received: {key}={overrides[key]!r}. "
                             + ("train compiles the model itself." if key == "compile" else "Pass seed= on its own."))
    model = {key: value for key, value in overrides.items() if key != "eta_final"}
    config = resolve(model_card, model, extra_keys=())
    checked = {key: config[key] for key in model}
    if "eta_final" in overrides:  # a bool is not a learning rate
        checked["eta_final"] = check_eta_final(overrides["eta_final"], model_card.name)
    return checked


_FLOAT32_MAX = 3.4028234663852886e38


def _is_number(value):
    """A finite number that stays finite in float32 (the models' dtype)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and abs(value) <= _FLOAT32_MAX)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_hidden(value, name):
    if _is_int(value):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(_is_int(v) and v > 0 for v in value):
        raise ValueError(
            f"hidden must be a tuple of positive layer widths, e.g. hidden=(100,) in Python or --set 'hidden=[100]' "
            f"on the command line. "
            f"Received: hidden={value!r} for {name!r}."
        )
    return tuple(value)


def _check_conv(value, name):
    valid = isinstance(value, (tuple, list)) and all(
        isinstance(layer, (tuple, list)) and len(layer) == 2 and all(_is_int(v) and v > 0 for v in layer)
        for layer in value
    )
    if not valid:
        raise ValueError(
            f"conv must be a tuple of (filters, kernel_size) pairs, e.g. conv=((20, 5), (40, 5)). "
            f"Received: conv={value!r} for {name!r}."
        )
    return tuple(tuple(layer) for layer in value)


def _check_rate(key, meaning, hint):
    """A learning rate's check: a number > 0, finite in float32, never a bool."""
    def check(value, name):
        if not _is_number(value) or value <= 0:
            raise ValueError(
                f"{key} ({meaning}) must be a number > 0, finite in float32. Received: {key}={value!r} "
                f"({type(value).__name__}) for {name!r}. {hint}"
            )
        return float(value)

    return check


_check_eta = _check_rate("eta", "the SGD learning rate", "The book uses values from 0.001 to 100; e.g. eta=0.1.")


def _check_p_dropout(value, name):
    if not _is_number(value) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"p_dropout (the fraction of inputs dropped) must be in [0, 1). "
            f"Received: p_dropout={value!r} for {name!r}. The book uses 0.5."
        )
    return float(value)


def _check_choice(key, choices):
    def check(value, name):
        if value not in choices:
            raise ValueError(
                f"Unknown {key}. Received: {key}={value!r} for {name!r}. "
                f"Expected one of {list(choices)}."
            )
        return value

    return check


def _check_lmbda(value, name):
    if not _is_number(value) or value < 0:
        raise ValueError(
            f"lmbda (the book's regularization parameter λ) must be a finite number >= 0. "
            f"Received: lmbda={value!r} for {name!r}. Use lmbda=0 for no regularization."
        )
    return float(value)


def _check_positive_int(key):
    def check(value, name):
        if not _is_int(value) or value <= 0:
            raise ValueError(f"{key} must be a positive integer. Received: {key}={value!r} for {name!r}.")
        return value

    return check


def _check_seed(value, name):
    if value is not None and (not _is_int(value) or value < 0):
        raise ValueError(f"seed must be None or an integer >= 0. Received: seed={value!r} for {name!r}.")
    return value


def _check_bool(key):
    def check(value, name):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be True or False. Received: {key}={value!r} for {name!r}.")
        return value

    return check


# A Recipe's eta_final (η at the last epoch of a geometric decay).
check_eta_final = _check_rate("eta_final", "the learning rate the run decays to by its last epoch",
                              "E.g. eta_final=0.001.")


CHECKS = {
    "hidden": _check_hidden,
    "conv": _check_conv,
    "activation": _check_choice("activation", ACTIVATIONS),
    "p_dropout": _check_p_dropout,
    "cost": _check_choice("cost", COSTS),
    "init": _check_choice("init", INITS),
    "eta": _check_eta,
    "lmbda": _check_lmbda,
    "regularization": _check_choice("regularization", REGULARIZATIONS),
    "n_train": _check_positive_int("n_train"),
    "batch_size": _check_positive_int("batch_size"),
    "n_members": _check_positive_int("n_members"),
    "seed": _check_seed,
    "compile": _check_bool("compile"),
}


def resolve(model_card, overrides, extra_keys=EXTRA_KEYS):
    """Merge a card's defaults with validated overrides into one flat dict.

    ``extra_keys``: the non-recipe keys the caller takes (``build``: seed and
    compile; ``train`` takes seed as an argument of its own).
    """
    allowed = (*model_keys(model_card), *extra_keys)
    for key in overrides:
        if key in TRAINING_ONLY_KEYS:
            raise ValueError(
                f"{key!r} is a training option, not a model option. Received: {key}="
                f"{overrides[key]!r}. Pass it to nnzoo.train({model_card.name!r}, {key}=...) instead."
            )
        if key not in allowed:
            raise ValueError(
                f"Unknown override for {model_card.name!r}. Received: {key}={overrides[key]!r}. "
                f"Expected one of {sorted(allowed)}."
            )
    if "member" in overrides:
        raise ValueError(
            f"The member network of {model_card.name!r} is fixed. Received: member="
            f"{overrides['member']!r}. Build another ensemble card, or pass member overrides "
            f"such as p_dropout= or eta= directly."
        )
    config = {key: model_card.recipe[key] for key in MODEL_RECIPE_KEYS}
    config.update(model_card.architecture)
    config.update(seed=None, compile=True)
    config.update(overrides)
    for key, value in config.items():
        if key in CHECKS:
            config[key] = CHECKS[key](value, model_card.name)
    return config
