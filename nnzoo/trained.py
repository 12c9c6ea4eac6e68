"""A trained model rebuilt from where its weights are: ``nnzoo export NAME --weights SOURCE``'s model and card facts.

``weights`` is ``"mnist"`` (the shipped weights and their record), a run
directory of ``nnzoo train`` (its recipe, architecture overrides included, and
the protocol's pick, through ``nnzoo.rundir.RunDir``), or a ``.keras`` /
``.weights.h5`` file (the card's recipe; the accuracy unknown).

>>> from nnzoo import trained
>>> model, facts = trained.model_and_record("conv2", "mnist")  # doctest: +SKIP
>>> facts["test_accuracy"], facts["experiment"]  # doctest: +SKIP
(0.9909, 'C6-04')
"""

from pathlib import Path

__all__ = ["model_and_record"]


def model_and_record(name, weights):
    """The model ``weights`` names, built as it was trained, and what is known of it for an export's card.

    ``mnist``: the shipped weights and their record. A run directory: its own
    recipe (architecture overrides included) and its selected weights' test
    accuracy. A file: the card's recipe; the accuracy is unknown.
    """
    from nnzoo import options, pretrained, registry, rundir  # noqa: PLC0415

    card = registry.card(name)
    if weights == pretrained.TAG:
        record = pretrained.source(card, weights, {}) and card.weights
        model = registry.build(name, compile=False, weights=weights)
        return model, {"recipe": dict(record.recipe), "test_accuracy": record.test_accuracy,
                       "weights_sha256": record.sha256, "experiment": record.experiment, "command": record.command}
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"--weights {weights}: no such file or directory. Expected 'mnist', a .keras file, "
                                f"a .weights.h5 file or a run directory of nnzoo train.")
    if not path.is_dir():
        return registry.build(name, compile=False, weights=str(path)), {}
    if (path / "saved_model.pb").is_file() or any(path.glob("*/saved_model.pb")):
        raise ValueError(f"--weights {weights} is an exported SavedModel, not weights to export: serve it as it is "
                         f"(its signature needs no nnzoo). Export from the weights it came from: 'mnist', a run "
                         f"directory, a .keras or a .weights.h5 file.")
    ensemble, directory = card.is_ensemble, rundir.RunDir(path)
    run = directory.members([1])[0] if ensemble else directory.best_run()
    recipe = run.recipe()
    if recipe is None:  # a directory with a model but no record of its training: the card's recipe
        return registry.build(name, compile=False, weights=str(path)), {}
    if recipe.get("name") != card.architecture.get("member", name):
        raise ValueError(f"{path} holds a run of {recipe.get('name')!r}, not {name!r}. Export it under its own "
                         f"name: nnzoo export {recipe.get('name')} --weights {path}")
    overrides = {k: v for k, v in options.model_settings(card, recipe).items() if k != "member"}
    if ensemble:
        overrides["n_members"] = len(directory.members())
    model = registry.build(name, compile=False, weights=str(path),
                           **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    measured = {"recipe": recipe}
    result = directory.summary() if ensemble else run.result()
    if result is not None and not recipe.get("n_test"):  # a score on all 10,000 test images
        if ensemble or directory.trained_weights() == run.selected_file:  # the score of the weights exported
            measured["test_accuracy"] = result["test_accuracy"]
    return model, measured
