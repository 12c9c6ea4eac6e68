"""The registry, the model cards and ``build``'s contract, over every network."""

import dataclasses

import keras
import numpy as np
import pytest

import nnzoo
from nnzoo import losses, registry, regularizers

ALL = nnzoo.list_models()


def test_every_book_network_is_registered():
    expected = {
        "shallow_sigmoid", "shallow_sigmoid_100", "network2", "network2_100", "no_hidden_sigmoid",
        "deep_sigmoid_1", "deep_sigmoid_2", "deep_sigmoid_3", "deep_sigmoid_4", "shallow_softmax",
        "conv1", "conv1_nofc", "conv2", "conv2_tanh", "conv2_relu", "conv2_relu_fc300",
        "conv2_relu_fc1000", "conv2_relu_2fc", "conv2_relu_2fc300", "conv2_relu_2fc1000",
        "conv2_dropout", "conv2_dropout_ensemble", "deep_fc_ciresan",
    }
    assert set(ALL) == expected


def test_names_are_in_natural_order():
    assert nnzoo.list_models("conv2_relu_*") == [
        "conv2_relu_2fc", "conv2_relu_2fc300", "conv2_relu_2fc1000", "conv2_relu_fc300", "conv2_relu_fc1000"]
    assert nnzoo.list_models("deep_sigmoid_*") == [f"deep_sigmoid_{k}" for k in (1, 2, 3, 4)]


def test_list_models_by_chapter():
    assert nnzoo.list_models(chapter=1) == ["shallow_sigmoid", "shallow_sigmoid_100"]
    assert set(nnzoo.list_models(chapter=[3, 5])) == set(nnzoo.list_models(chapter=3) + nnzoo.list_models(chapter=5))
    assert set(nnzoo.list_models(chapter=6)) == {n for n in ALL if nnzoo.card(n).chapter == 6}
    with pytest.raises(ValueError, match=r"chapter must be a chapter number 1-6.*Received: chapter=7"):
        nnzoo.list_models(chapter=7)


def test_cards_cite_chapter_and_section():
    for name in ALL:
        model_card = nnzoo.card(name)
        if model_card.book_result:
            assert model_card.book_result.source.startswith(f"Chapter {model_card.chapter}, “"), name
        assert model_card.to_dict()["book_url"] == f"http://neuralnetworksanddeeplearning.com/chap{model_card.chapter}.html"


@pytest.mark.parametrize("name", ALL)
def test_parameter_count_equals_the_card(name):
    model = nnzoo.build(name, seed=0, compile=False)
    assert model.count_params() == nnzoo.card(name).params


def test_conv2_dropout_has_the_books_parameter_count():
    assert nnzoo.build("conv2_dropout", compile=False).count_params() == 1_672_570


@pytest.mark.parametrize("name", ALL)
def test_build_returns_a_compiled_functional_model_with_the_image_input(name):
    model_card = nnzoo.card(name)
    model = nnzoo.build(name, seed=0)
    assert isinstance(model, keras.Model) and model.name == name
    assert model.layers[0].name == "image"
    assert model.get_layer("image").batch_shape == (None, 28, 28, 1)
    assert model.output.shape == (None, 10)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(model_card.recipe["eta"])
    assert type(model.loss) is type(losses.get(model_card.recipe["cost"]))
    predictions = model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert predictions.shape == (2, 10)
    if model_card.recipe["cost"] == "log_likelihood":
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_card_is_complete_frozen_data(name):
    model_card = nnzoo.card(name)
    assert model_card.chapter in (1, 3, 5, 6)
    assert model_card.book_code in ("network.py", "network2.py", "network3.py")
    assert model_card.book_call and model_card.summary
    assert {"cost", "init", "eta", "lmbda", "regularization", "batch_size", "n_train", "epochs",
            "data"} <= set(model_card.recipe)
    assert "hidden" in model_card.architecture
    with pytest.raises(dataclasses.FrozenInstanceError):
        model_card.params = 1
    with pytest.raises(TypeError):
        model_card.recipe["eta"] = 1.0
    if model_card.book_result is not None:
        assert model_card.book_result.split in ("test", "validation")
        assert 90 < model_card.book_result.accuracy < 100
    assert model_card.to_dict()["name"] == name


def test_cards_record_the_books_recipes():
    """A few anchors from the book text (catalog §1)."""
    assert nnzoo.card("shallow_sigmoid").recipe["eta"] == 3.0
    assert nnzoo.card("shallow_sigmoid").recipe["cost"] == "quadratic"
    assert nnzoo.card("network2_100").book_result.accuracy == 98.04
    dropout = nnzoo.card("conv2_dropout")
    assert dropout.recipe["epochs"] == 40 and dropout.recipe["data"] == "expanded"
    assert dropout.architecture["p_dropout"] == 0.5 and dropout.recipe["lmbda"] == 0.0
    assert nnzoo.card("conv2_relu").recipe["lmbda"] == 0.1


def test_list_models_filters_like_timm():
    assert nnzoo.list_models("deep_sigmoid_*") == [f"deep_sigmoid_{k}" for k in (1, 2, 3, 4)]
    assert "conv2_dropout_ensemble" not in nnzoo.list_models("conv2_*", exclude="*ensemble")
    assert nnzoo.list_models(["conv1*", "network2*"]) == ["conv1", "conv1_nofc", "network2", "network2_100"]
    assert nnzoo.list_models("nothing*") == []


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"Received: name='conv2_dropuot'.*Did you mean: conv2_dropout"):
        nnzoo.build("conv2_dropuot")
    with pytest.raises(ValueError, match="Unknown model name"):
        nnzoo.card("resnet50")


BAD_OVERRIDES = [
    ({"eta": -0.1}, r"eta .* must be a number > 0, finite in float32\. Received: eta=-0\.1 \(float\)"),
    ({"eta": 0}, r"Received: eta=0"),
    ({"eta": float("nan")}, r"Received: eta=nan"),
    ({"p_dropout": 1.0}, r"p_dropout .* must be in \[0, 1\)\. Received: p_dropout=1\.0"),
    ({"p_dropout": -0.2}, r"Received: p_dropout=-0\.2"),
    ({"cost": "mse"}, r"Unknown cost\. Received: cost='mse'.*'cross_entropy'"),
    ({"init": "he"}, r"Unknown init\. Received: init='he'"),
    ({"activation": "gelu"}, r"Unknown activation\. Received: activation='gelu'"),
    ({"regularization": "l3"}, r"Unknown regularization\. Received: regularization='l3'"),
    ({"lmbda": -1.0}, r"lmbda .* must be a finite number >= 0\. Received: lmbda=-1\.0"),
    ({"n_train": 0}, r"n_train must be a positive integer\. Received: n_train=0"),
    ({"batch_size": 2.5}, r"batch_size must be a positive integer\. Received: batch_size=2\.5"),
    ({"hidden": (30, -1)}, r"hidden must be a tuple of positive layer widths.*Received: hidden=\(30, -1\)"),
    ({"hidden": "30"}, r"Received: hidden='30'"),
    ({"seed": -3}, r"seed must be None or an integer >= 0\. Received: seed=-3"),
    ({"compile": "yes"}, r"compile must be True or False"),
    ({"learning_rate": 0.1}, r"Unknown override for 'network2'\. Received: learning_rate=0\.1\. Expected one of"),
    ({"epochs": 5}, r"'epochs' is a training option.*nnzoo\.train\('network2', epochs=\.\.\.\)"),
]


@pytest.mark.parametrize("overrides, message", BAD_OVERRIDES, ids=[str(o) for o, _ in BAD_OVERRIDES])
def test_bad_overrides_are_rejected_before_building(overrides, message, monkeypatch):
    built = []
    spy = dataclasses.replace(nnzoo.card("network2"), builder=lambda *args: built.append(args))
    monkeypatch.setitem(registry._REGISTRY, "network2", spy)
    with pytest.raises(ValueError, match=message):
        nnzoo.build("network2", **overrides)
    assert not built


def test_conv_override_is_validated():
    with pytest.raises(ValueError, match=r"conv must be a tuple of \(filters, kernel_size\) pairs"):
        nnzoo.build("conv2", conv=((20, 5, 1),))


def test_ensemble_member_is_fixed():
    with pytest.raises(ValueError, match="member network of 'conv2_dropout_ensemble' is fixed"):
        nnzoo.build("conv2_dropout_ensemble", member="conv2")


def test_ensemble_members_are_the_runs_of_a_best_of_k_with_its_seed():
    # So a network's trained runs can stand in as the ensemble's members (C6-11's three are C6-12's first three).
    ensemble = nnzoo.build("conv2_dropout_ensemble", n_members=3, hidden=(8, 8), seed=4)
    for index in (1, 3):
        run = nnzoo.build("conv2_dropout", hidden=(8, 8), seed=4 + index - 1)
        member = ensemble.get_layer(f"member_{index}")
        assert all(np.array_equal(a, b) for a, b in zip(member.get_weights(), run.get_weights(), strict=True))
    other = nnzoo.build("conv2_dropout", hidden=(8, 8), seed=4 + 1)
    assert not np.array_equal(ensemble.get_layer("member_1").get_weights()[0], other.get_weights()[0])


def test_wrong_input_shape_is_a_clear_keras_error():
    model = nnzoo.build("shallow_sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 28, 28, 1\)|incompatible"):
        model(np.zeros((2, 784), "float32"))


def test_overrides_reach_the_model():
    model = nnzoo.build("network2", hidden=(100, 20), activation="tanh", cost="log_likelihood",
                        init="network3", lmbda=5.0, regularization="l1", n_train=1000, eta=0.25,
                        p_dropout=0.2, seed=1)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [100, 20, 10]
    assert model.get_layer("hidden_1").activation.__name__ == "tanh"
    assert model.get_layer("output").activation.__name__ == "softmax"
    assert isinstance(model.loss, losses.LogLikelihood)
    penalty = model.get_layer("hidden_2").kernel_regularizer
    assert isinstance(penalty, regularizers.L1) and penalty.coefficient == pytest.approx(5.0 / 1000)
    assert model.get_layer("hidden_1").bias_regularizer is None
    assert float(model.optimizer.learning_rate) == pytest.approx(0.25)
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.2] * 3


def test_conv2_dropout_places_dropout_on_the_input_of_every_fully_connected_layer():
    model = nnzoo.build("conv2_dropout", seed=0)
    names = [layer.name for layer in model.layers]
    assert names == ["image", "conv_1", "pool_1", "conv_2", "pool_2", "flatten", "dropout_1", "hidden_1",
                     "dropout_2", "hidden_2", "dropout_output", "output"]
    assert model.get_layer("flatten").output.shape == (None, 640)
    assert model.get_layer("conv_1").padding == "valid"
    assert model.get_layer("conv_1").output.shape == (None, 24, 24, 20)
    assert model.get_layer("conv_2").output.shape == (None, 8, 8, 40)


def test_lambda_zero_means_no_penalty():
    model = nnzoo.build("conv2_dropout", seed=0)
    assert not model.losses
