"""Chapter 6's LeNet-style convolutional networks (``network3.py``).

A conv-pool layer is a 5×5 'valid' convolution with stride 1 followed by 2×2
max-pooling: 28 → 24 → 12 for the first, 12 → 8 → 4 for the second. network3
adds the bias after pooling and then applies the activation; Keras adds it
before. Because the bias is per feature map and every activation used is
non-decreasing, max-pooling commutes with both, so the two compute the same
function. (The flatten order differs from network3's NCHW layout, which only
matters for porting weights.)
"""

from nnzoo.models import _common
from nnzoo.registry import BookResult, ModelCard, register

POOL = 2


def check_feature_maps(conv, name):
    """Refuse a ``conv`` whose kernels do not fit the feature maps they get, before any layer is built.

    Each layer's 'valid' convolution shrinks a size-s map to s − k + 1 and its
    2×2 max-pooling halves that (rounding down): 28 → 24 → 12 → 8 → 4 for the
    book's two 5×5 layers. A kernel larger than its map, or a map pooled to
    nothing, is an error naming ``conv``.

    >>> check_feature_maps(((20, 5), (40, 5)), "conv2")
    [(28, 24, 12), (12, 8, 4)]
    """
    size, sizes = _common.IMAGE_SHAPE[0], []
    for index, (_, kernel) in enumerate(conv, start=1):
        convolved = size - kernel + 1
        pooled = convolved // POOL
        if pooled < 1:
            what = (f"its {kernel}×{kernel} kernel is larger than the {size}×{size} feature map it gets"
                    if convolved < 1 else
                    f"its {kernel}×{kernel} kernel leaves a {convolved}×{convolved} map, which {POOL}×{POOL} "
                    f"max-pooling reduces to nothing")
            chain = " → ".join(f"{a}×{a}" for a, *_ in sizes + [(size,)])
            before = f" (the layers before it take the image {chain})" if sizes else ""
            raise ValueError(
                f"conv layer {index} of {len(conv)} does not fit: {what}{before}; each layer is a 'valid' "
                f"convolution then {POOL}×{POOL} max-pooling. Received: conv={conv!r} for {name!r}. Expected "
                f"kernels that leave at least a {POOL}×{POOL} map for the pooling, e.g. the book's "
                f"conv=((20, 5), (40, 5))."
            )
        sizes.append((size, convolved, pooled))
        size = pooled
    return sizes


def build_conv(model_card, config):
    """``conv`` × (Conv2D valid → MaxPool 2×2) → Flatten → fully-connected head."""
    check_feature_maps(config["conv"], model_card.name)
    import keras  # noqa: PLC0415  (cards are data; Keras is needed only to build)

    from nnzoo import initializers  # noqa: PLC0415

    seeds = _common.SeedStream(config["seed"])
    inputs = _common.image_input()
    x = inputs
    for index, (filters, kernel) in enumerate(config["conv"], start=1):
        kernel_init, bias_init = initializers.initializers_for(
            config["init"], pool_area=POOL * POOL, seed=seeds()
        )
        x = keras.layers.Conv2D(
            filters,
            kernel,
            padding="valid",
            activation=config["activation"],
            kernel_initializer=kernel_init,
            bias_initializer=bias_init,
            kernel_regularizer=_common.penalty(config, model_card.book_code),
            name=f"conv_{index}",
        )(x)
        x = keras.layers.MaxPooling2D(POOL, name=f"pool_{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = _common.fully_connected_head(x, config, model_card.book_code, seeds)
    return _common.finish(model_card, config, inputs, outputs)


ONE_CONV = ((20, 5),)
TWO_CONV = ((20, 5), (40, 5))

_SIGMOID_RECIPE = dict(cost="log_likelihood", init="network3", eta=0.1, lmbda=0.0, regularization="l2",
                       batch_size=10, n_train=50_000, epochs=60, data="mnist")
_RELU_RECIPE = dict(_SIGMOID_RECIPE, eta=0.03, lmbda=0.1)
_EXPANDED_RELU_RECIPE = dict(_RELU_RECIPE, n_train=250_000, data="expanded")

_CP1 = "ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2){act})"
_CP2 = "ConvPoolLayer(image_shape=(10, 20, 12, 12), filter_shape=(40, 20, 5, 5), poolsize=(2, 2){act})"


def _call(layers, data, epochs, eta, lmbda=None, act=""):
    layer_text = ", ".join(layer.format(act=act) for layer in layers)
    extra = f", lmbda={lmbda}" if lmbda else ""
    return (f"net = Network([{layer_text}], 10); "
            f"net.SGD({data}, {epochs}, 10, {eta}, validation_data, test_data{extra})")


def _fc(n_in, n_out, act="", p=""):
    return f"FullyConnectedLayer(n_in={n_in}, n_out={n_out}{act}{p})"


def _conv_card(name, summary, conv, hidden, activation, recipe, params, book_result, book_call,
               p_dropout=0.0):
    register(ModelCard(
        name=name,
        summary=summary,
        chapter=6,
        book_code="network3.py",
        book_call=book_call,
        architecture={"conv": conv, "hidden": hidden, "activation": activation, "p_dropout": p_dropout},
        recipe=recipe,
        params=params,
        book_result=book_result,
        builder=build_conv,
    ))


_SOFTMAX = "SoftmaxLayer(n_in={n}, n_out=10{p})"
_RELU = ", activation_fn=ReLU"

_conv_card(
    "conv1", "One sigmoid conv-pool layer (20 maps), 100 sigmoid neurons, softmax.",
    ONE_CONV, (100,), "sigmoid", _SIGMOID_RECIPE, 289_630,
    BookResult(98.78, "test", runs=3, experiment="C6-02", source="Chapter 6, “Convolutional neural networks in practice”"),
    _call([_CP1, _fc(2880, 100), _SOFTMAX.format(n=100, p="")], "training_data", 60, 0.1),
)
_conv_card(
    "conv1_nofc", "Chapter 6 exercise: conv1 without its fully-connected layer.",
    ONE_CONV, (), "sigmoid", _SIGMOID_RECIPE, 29_330, None,
    _call([_CP1, _SOFTMAX.format(n=2880, p="")], "training_data", 60, 0.1),
)
_conv_card(
    "conv2", "Two sigmoid conv-pool layers (20 and 40 maps), 100 sigmoid neurons, softmax.",
    TWO_CONV, (100,), "sigmoid", _SIGMOID_RECIPE, 85_670,
    BookResult(99.06, "test", runs=3, experiment="C6-04", source="Chapter 6, “Convolutional neural networks in practice”"),
    _call([_CP1, _CP2, _fc(640, 100), _SOFTMAX.format(n=100, p="")], "training_data", 60, 0.1),
)
_conv_card(
    "conv2_tanh", "conv2 with tanh in the conv and fully-connected layers (a chapter 6 problem).",
    TWO_CONV, (100,), "tanh", _SIGMOID_RECIPE, 85_670, None,
    _call([_CP1, _CP2, _fc(640, 100, ", activation_fn=tanh"), _SOFTMAX.format(n=100, p="")],
          "training_data", 60, 0.1, act=", activation_fn=tanh"),
)
_conv_card(
    "conv2_relu", "conv2 with ReLU units and network3's L2 (λ = 0.1), η = 0.03.",
    TWO_CONV, (100,), "relu", _RELU_RECIPE, 85_670,
    BookResult(99.23, "test", runs=3, experiment="C6-06", source="Chapter 6, “Convolutional neural networks in practice”"),
    _call([_CP1, _CP2, _fc(640, 100, _RELU), _SOFTMAX.format(n=100, p="")],
          "training_data", 60, 0.03, lmbda=0.1, act=_RELU),
)
for _width, _params, _accuracy in ((300, 215_870, 99.46), (1000, 671_570, 99.43)):
    _conv_card(
        f"conv2_relu_fc{_width}", f"conv2_relu with {_width} ReLU neurons, on the expanded data.",
        TWO_CONV, (_width,), "relu", _EXPANDED_RELU_RECIPE, _params,
        BookResult(_accuracy, "test", runs=3, experiment="C6-08", source="Chapter 6, “Convolutional neural networks in practice”"),
        _call([_CP1, _CP2, _fc(640, _width, _RELU), _SOFTMAX.format(n=_width, p="")],
              "expanded_training_data", 60, 0.03, lmbda=0.1, act=_RELU),
    )
for _suffix, _width, _params, _accuracy, _experiment, _source in (
    ("", 100, 95_770, 99.43, "C6-09", "Chapter 6, “Convolutional neural networks in practice”"),
    ("300", 300, 306_170, 99.48, "C6-10", "Chapter 6, “Convolutional neural networks in practice”"),
    ("1000", 1000, 1_672_570, 99.47, "C6-10", "Chapter 6, “Convolutional neural networks in practice”"),
):
    _conv_card(
        f"conv2_relu_2fc{_suffix}",
        f"conv2_relu with two fully-connected ReLU layers of {_width}, on the expanded data.",
        TWO_CONV, (_width, _width), "relu", _EXPANDED_RELU_RECIPE, _params,
        BookResult(_accuracy, "test", runs=3, experiment=_experiment, source=_source),
        _call([_CP1, _CP2, _fc(640, _width, _RELU), _fc(_width, _width, _RELU),
               _SOFTMAX.format(n=_width, p="")],
              "expanded_training_data", 60, 0.03, lmbda=0.1, act=_RELU),
    )

_DROP = ", p_dropout=0.5"
_conv_card(
    "conv2_dropout",
    "The book's best single network: two ReLU conv-pool layers, two 1,000-neuron ReLU layers, "
    "dropout 0.5 on the input of every fully-connected layer, expanded data.",
    TWO_CONV, (1000, 1000), "relu",
    dict(_EXPANDED_RELU_RECIPE, lmbda=0.0, epochs=40), 1_672_570,
    BookResult(99.60, "test", runs=3, experiment="C6-11", source="Chapter 6, “Convolutional neural networks in practice”"),
    _call([_CP1, _CP2, _fc(640, 1000, _RELU, _DROP), _fc(1000, 1000, _RELU, _DROP),
           _SOFTMAX.format(n=1000, p=_DROP)],
          "expanded_training_data", 40, 0.03, act=_RELU),
    p_dropout=0.5,
)
