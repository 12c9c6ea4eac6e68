"""Recipe objects: what they hold, what they refuse, and nnzoo.train taking one (#14)."""

import json
import re
import warnings

import numpy as np
import pytest

import nnzoo
from nnzoo import data, experiments, registry
from nnzoo.protocols import Protocol
from nnzoo.recipe import Recipe


def test_a_recipe_is_the_card_plus_its_changes():
    recipe = Recipe("network2", {"hidden": (100,), "lmbda": 0.0}, epochs=10)
    settings = recipe.settings()
    assert settings["hidden"] == (100,) and settings["lmbda"] == 0.0 and settings["epochs"] == 10
    assert settings["eta"] == registry.card("network2").recipe["eta"] and settings["data"] == "mnist"
    assert recipe.protocol == Protocol(shuffle=True, rule="peak_test")  # the card's: network2's number is on test
    assert Recipe("conv2").protocol == Protocol(shuffle=False, rule="best_validation_test")
    with pytest.raises(TypeError):
        recipe.overrides["eta"] = 1.0  # frozen, the overrides included
    assert recipe.replace(epochs=1).epochs == 1 and recipe.epochs == 10
    assert json.loads(json.dumps(recipe.to_dict()))["overrides"] == {"hidden": [100], "lmbda": 0.0}


@pytest.mark.parametrize("kwargs, message", [
    ({"network": "conv3"}, "conv3"),
    ({"network": "conv2", "overrides": [("eta", 1)]}, "Received: overrides="),
    ({"network": "conv2", "epochs": 0}, "Received: epochs=0"),
    ({"network": "conv2", "runs": 1.5}, "Received: runs=1.5"),
    ({"network": "conv2", "protocol": "best"}, "Received: protocol='best'"),
])
def test_a_bad_recipe_says_what_it_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**kwargs)


def test_every_experiment_is_a_recipe_with_the_books_protocol():
    for experiment in (e for e in experiments.EXPERIMENTS if e.kind == "train"):
        recipe = experiment.recipe
        assert recipe.network == experiment.model and recipe.runs == experiment.runs
        assert recipe.settings() == experiment.settings()
        assert recipe.protocol == experiments.protocol(experiment)
    assert experiments.get("C3-11").recipe.protocol.rule == "peak_validation"
    assert experiments.get("C6-11").recipe.protocol.rule == "best_validation_test"


def test_ensemble_is_a_card_property():
    assert [name for name in registry.list_models() if registry.card(name).is_ensemble] == ["conv2_dropout_ensemble"]


def test_data_spec_grammar_and_accuracy_live_in_nnzoo_data():
    assert data.parse_spec("expanded") == ("expanded", None)
    assert data.first_n_spec("mnist[:1000]", 200) == "mnist[:200]"
    with pytest.raises(ValueError, match=re.escape("Received: data='mnist[:ten]'")):
        data.parse_spec("mnist[:ten]")
    assert data.accuracy(np.eye(10)[[0, 1, 2, 3]], [0, 1, 2, 9]) == 0.75


def test_train_takes_a_recipe(mnist_split, tmp_path):
    recipe = experiments.get("C3-11").recipe.replace(epochs=1, data="mnist[:300]", runs=2)
    result = nnzoo.train(recipe, out=tmp_path / "run", n_test=100, verbose=0)
    assert len(result.runs) == 2  # the recipe's runs, with its protocol: peak validation
    assert result.protocol.startswith("peak validation accuracy")
    saved = json.loads((tmp_path / "run" / "run-1" / "recipe.json").read_text())
    assert (saved["hidden"], saved["eta"], saved["data"], saved["epochs"]) == ([100], 0.5, "mnist[:300]", 1)
    again = nnzoo.train(recipe, out=tmp_path / "run", n_test=100, verbose=0)  # complete: nothing re-trained
    assert again.runs[0].history == result.runs[0].history


def test_one_table_holds_every_number_the_book_reports():
    """#14: the baselines, the size curve, the learning speeds and the vote are rows with their book numbers."""
    kinds = {e.id: e.kind for e in experiments.EXPERIMENTS}
    assert {i: kinds[i] for i in ("C1-05", "C1-06", "C1-07", "C3-14", "C5-05", "C5-06", "C6-12")} == {
        "C1-05": "baseline", "C1-06": "baseline", "C1-07": "baseline", "C3-14": "size_curve",
        "C5-05": "learning_speed", "C5-06": "learning_speed", "C6-12": "train"}
    assert experiments.get("C1-06").book.accuracy == 22.25 and experiments.get("C3-14").book.accuracy == 94.48
    assert experiments.get("C5-05").book.values["deep_sigmoid_4"] == (0.003, 0.017, 0.070, 0.285)
    assert experiments.get("C1-07").recipe is None  # a study holds no Recipe
    with pytest.raises(ValueError, match="C1-07 .* is a baseline study, not one network's training recipe"):
        experiments.get("C1-07").settings()
    assert experiments.for_weights("network2").id == "C3-10"  # studies never source shipped weights


def test_results_md_is_generated_from_the_committed_records():
    """#14: every row of docs/RESULTS.md's table comes from a record under docs/runs (re-render: python -m
    nnzoo.results --into docs/RESULTS.md docs/runs)."""
    from pathlib import Path

    from nnzoo import results

    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "RESULTS.md").read_text()
    table = text.split(results.BEGIN, 1)[1].split(results.END, 1)[0]
    assert table.strip() == results.render(results.load_records(root / "docs" / "runs")).strip()
    outside = text.replace(table, "")
    assert not [line for line in outside.splitlines() if line.startswith("| C")], "a hand-written result row"


def test_two_records_of_one_experiment_are_refused_until_one_is_marked_superseded(tmp_path):
    import json

    from nnzoo import records, results

    for machine in ("cpu", "h100"):
        (tmp_path / machine / "C6-11").mkdir(parents=True)
        (tmp_path / machine / "C6-11" / records.FILE).write_text(json.dumps({"id": "C6-11", "machine": machine}))
    with pytest.raises(ValueError, match=r"Two records of C6-11: .*cpu/C6-11.*h100/C6-11.*experiment-superseded"):
        results.load_records(tmp_path)
    (tmp_path / "h100" / "C6-11" / records.FILE).rename(tmp_path / "h100" / "C6-11" / records.SUPERSEDED)
    assert results.load_records(tmp_path)["C6-11"]["machine"] == "cpu"


def test_the_books_number_has_one_type_on_cards_and_experiments():
    for experiment in experiments.EXPERIMENTS:
        assert experiment.book is None or isinstance(experiment.book, registry.BookResult), experiment.id
    assert experiments.get("C3-12").book is nnzoo.card("network2_100").book_result  # a card's own row: its number
    c311 = experiments.get("C3-11").book
    assert (c311.accuracy, c311.split, c311.report, c311.experiment) == (97.92, "validation", "peak", "C3-11")
    assert c311.text() == "97.92% validation (C3-11)"
    assert experiments.book_dict(experiments.get("C5-05"))["values"]["deep_sigmoid_2"] == [0.07, 0.31]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = experiments.BookNumber(50.0, "test", "final", "Chapter 1")
    assert isinstance(old, registry.BookResult) and old.report == "final"
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_the_protocol_says_itself_on_cards_experiments_and_the_vote():
    from nnzoo.protocols import VOTE

    for name in nnzoo.list_models():
        card = nnzoo.card(name)
        if card.book_result is None or name == "deep_fc_ciresan":  # Cireşan et al.'s number: their protocol
            continue
        members = card.architecture.get("n_members") if card.is_ensemble else None
        described = Protocol.for_card(card).describe(runs=card.book_result.runs, members=members)
        assert card.book_result.protocol == described, name
    assert nnzoo.card("conv2").book_result.protocol.endswith("fixed training order; best of 3 runs")
    assert nnzoo.card("conv2_dropout_ensemble").book_result.protocol.startswith(VOTE.split("{")[0] + "5 ")
    for experiment in experiments.EXPERIMENTS:
        if experiment.kind == "train" and experiment.book and experiment.book is experiment.recipe.card.book_result:
            assert experiments.protocol(experiment) == Protocol.for_card(experiment.recipe.card), experiment.id
            assert experiment.runs == experiment.book.runs, experiment.id
    assert experiments.protocol(experiments.get("C3-18")).rule == "first_validation"


def test_an_experiment_holds_a_recipe_and_reads_its_fields_from_it():
    c309 = experiments.get("C3-09")
    assert c309.recipe == Recipe("network2", {"lmbda": 0.1}, epochs=400, data="mnist[:1000]", monitor=True)
    assert (c309.model, dict(c309.overrides), c309.epochs, c309.data, c309.monitor) == (
        "network2", {"lmbda": 0.1}, 400, "mnist[:1000]", True)
    assert experiments.get("C6-11").recipe.runs == 3 and experiments.get("C3-18").recipe.n_validation == 100
    with pytest.raises(ValueError, match="holds an nnzoo.recipe.Recipe"):
        experiments.Experiment("X1-01", "no recipe", "network2")


def test_one_list_says_which_keys_are_model_overrides_and_the_recipe_checks_them_once(monkeypatch):
    from nnzoo import options, training

    card = nnzoo.card("network2")
    assert options.model_settings(card, {"hidden": (100,), "eta": 0.5, "epochs": 3, "data": "mnist", "seed": 1}) \
        == {"hidden": (100,), "eta": 0.5}
    assert not set(options.TRAINING_KEYS) & set(options.model_keys(card))
    with pytest.raises(ValueError, match="'epochs' is a training option, not a model option"):
        Recipe("network2", {"epochs": 3})
    assert dict(Recipe("network2", {"hidden": [100], "eta": 1}).overrides) == {"hidden": (100,), "eta": 1.0}
    recipe = Recipe("network2", {"lmbda": 0.0}, epochs=2)
    assert training.as_recipe(recipe, {}) is recipe  # taken as it is
    assert training.as_recipe("network2", {"lmbda": 0.0}, epochs=2) == recipe
    seen = {}
    monkeypatch.setattr(training, "train", lambda target, **kwargs: seen.update(target=target, **kwargs) or
                        training.TrainResult("network2", {}, "", [], 0, 0.0, 0.0, 0.0, ""))
    nnzoo.train("network2", lmbda=0.0, epochs=2, verbose=0)
    assert seen["target"] == recipe and seen["verbose"] == 0  # a name becomes the Recipe; options pass beside it
    nnzoo.train("C3-11", epochs=1)
    assert seen["target"] == experiments.get("C3-11").recipe.replace(epochs=1) and seen["book"].experiment == "C3-11"
