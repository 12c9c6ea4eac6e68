"""Fully-connected networks: chapters 1, 3 and 5, and chapter 6's baseline.

Every one takes the 28×28×1 ``image`` input, flattens it to the book's
784-vector, then runs ``hidden`` fully-connected layers and a 10-neuron output.
"""

from nnzoo.models import _common
from nnzoo.registry import BookResult, ModelCard, register



def build_dense(model_card, config):
    """Flatten → ``hidden`` × Dense(activation) → Dense(10, sigmoid|softmax)."""
    import keras  # noqa: PLC0415  (cards are data; Keras is needed only to build)

    seeds = _common.SeedStream(config["seed"])
    inputs = _common.image_input()
    x = keras.layers.Flatten(name="flatten")(inputs)
    outputs = _common.fully_connected_head(x, config, model_card.book_code, seeds)
    return _common.finish(model_card, config, inputs, outputs)


def _network_py(hidden, book_result, experiment_call):
    return dict(
        chapter=1,
        book_code="network.py",
        book_call=experiment_call,
        architecture={"hidden": hidden, "activation": "sigmoid", "p_dropout": 0.0},
        recipe=dict(cost="quadratic", init="large", eta=3.0, lmbda=0.0, regularization="l2",
                    batch_size=10, n_train=50_000, epochs=30, data="mnist"),
        book_result=book_result,
        builder=build_dense,
    )


# Chapter 1's network.py nets, [784, n, 10] for n = 30 and 100: name, params, the book's number, experiment.
for _name, _hidden, _params, _accuracy, _experiment in (("shallow_sigmoid", 30, 23_860, 95.42, "C1-01"),
                                                        ("shallow_sigmoid_100", 100, 79_510, 96.59, "C1-02")):
    register(ModelCard(
        name=_name,
        summary=f"Chapter 1's [784, {_hidden}, 10] sigmoid network with the quadratic cost.",
        params=_params,
        **_network_py(
            (_hidden,),
            BookResult(_accuracy, "test", runs=3, experiment=_experiment,
                       source="Chapter 1, “Implementing our network to classify digits”"),
            f"net = network.Network([784, {_hidden}, 10]); net.SGD(training_data, 30, 10, 3.0, test_data=test_data)",
        ),
    ))


def _network2_py(hidden, recipe, book_result, experiment_call, chapter=3):
    return dict(
        chapter=chapter,
        book_code="network2.py",
        book_call=experiment_call,
        architecture={"hidden": hidden, "activation": "sigmoid", "p_dropout": 0.0},
        recipe=dict(dict(cost="cross_entropy", init="default", regularization="l2",
                         batch_size=10, n_train=50_000, data="mnist"), **recipe),
        book_result=book_result,
        builder=build_dense,
    )


# Chapter 3's network2.py nets with the large initialisation and λ = 5: name, summary, params, hidden size,
# epochs, η, the book's number and the split it monitored.
for _name, _summary, _params, _hidden, _epochs, _eta, _book_result, _split in (
    ("network2", "Chapter 3's network2.py [784, 30, 10] net: cross-entropy and L2 weight decay.", 23_860, 30, 30, 0.5,
     BookResult(96.49, "test", experiment="C3-10", source="Chapter 3, “Regularization”"), "test"),
    ("network2_100", "Chapter 3's [784, 100, 10] cross-entropy + L2 net: the book's 98% run.", 79_510, 100, 60, 0.1,
     BookResult(98.04, "validation", experiment="C3-12", source="Chapter 3, “Regularization”"), "validation"),
):
    register(ModelCard(name=_name, summary=_summary, params=_params, **_network2_py(
        (_hidden,), dict(init="large", eta=_eta, lmbda=5.0, epochs=_epochs), _book_result,
        f"net = network2.Network([784, {_hidden}, 10], cost=network2.CrossEntropyCost); "
        f"net.large_weight_initializer(); net.SGD(training_data, {_epochs}, 10, {_eta}, lmbda=5.0, "
        f"evaluation_data={_split}_data, monitor_evaluation_accuracy=True)",
    )))

register(ModelCard(
    name="no_hidden_sigmoid",
    summary="Chapter 3's stripped-down [784, 10] net for hyper-parameter search on 1,000 images.",
    params=7_850,
    **_network2_py(
        (),
        dict(eta=1.0, lmbda=20.0, n_train=1_000, epochs=30, data="mnist[:1000]"),
        None,  # the book prints per-epoch counts on 100 validation images, no single result
        "net = network2.Network([784, 10]); net.SGD(training_data[:1000], 30, 10, 1.0, lmbda=20.0, "
        "evaluation_data=validation_data[:100], monitor_evaluation_accuracy=True)",
    ),
))

for _depth, _accuracy, _params in ((1, 96.48, 23_860), (2, 96.90, 24_790), (3, 96.57, 25_720),
                                   (4, 96.53, 26_650)):
    _sizes = ", ".join(["784"] + ["30"] * _depth + ["10"])
    register(ModelCard(
        name=f"deep_sigmoid_{_depth}",
        summary=f"Chapter 5's sigmoid net with {_depth} hidden layer(s) of 30 neurons: [{_sizes}].",
        params=_params,
        **_network2_py(
            (30,) * _depth,
            dict(eta=0.1, lmbda=5.0, epochs=30),
            BookResult(_accuracy, "validation", experiment=f"C5-0{_depth}", source="Chapter 5, “The vanishing gradient problem”"),
            f"net = network2.Network([{_sizes}]); net.SGD(training_data, 30, 10, 0.1, lmbda=5.0, "
            "evaluation_data=validation_data, monitor_evaluation_accuracy=True)",
            chapter=5,
        ),
    ))

register(ModelCard(
    name="shallow_softmax",
    summary="Chapter 6's fully-connected baseline: 100 sigmoid neurons and a softmax output.",
    chapter=6,
    book_code="network3.py",
    book_call="net = Network([FullyConnectedLayer(n_in=784, n_out=100), SoftmaxLayer(n_in=100, n_out=10)], 10); "
    "net.SGD(training_data, 60, 10, 0.1, validation_data, test_data)",
    architecture={"hidden": (100,), "activation": "sigmoid", "p_dropout": 0.0},
    recipe=dict(cost="log_likelihood", init="network3", eta=0.1, lmbda=0.0, regularization="l2",
                batch_size=10, n_train=50_000, epochs=60, data="mnist"),
    params=79_510,
    book_result=BookResult(97.80, "test", runs=3, experiment="C6-01", source="Chapter 6, “Convolutional neural networks in practice”"),
    builder=build_dense,
))

register(ModelCard(
    name="deep_fc_ciresan",
    summary="Beyond the book: the 2,500-2,000-1,500-1,000-500 MLP of Cireşan et al. (2010) that chapter 6 cites.",
    chapter=6,
    book_code="network3.py",
    book_call="(cited, not run by the book) MLP 784-2500-2000-1500-1000-500-10 on deformed MNIST, "
    "η decreased from 1e-3 to 1e-6",
    architecture={"hidden": (2500, 2000, 1500, 1000, 500), "activation": "tanh", "p_dropout": 0.0},
    recipe=dict(cost="log_likelihood", init="default", eta=1e-3, eta_final=1e-6, lmbda=0.0,
                regularization="l2", batch_size=1, n_train=250_000, epochs=800, data="expanded"),
    params=11_972_510,
    book_result=BookResult(99.65, "test", "reported by Cireşan et al., cited by the book", "C6-L2", "Chapter 6, “Why we only applied dropout to the fully-connected layers”"),
    builder=build_dense,
))
