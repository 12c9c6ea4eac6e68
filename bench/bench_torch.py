"""PyTorch eager mirrors of the nnzoo networks, trained with a standard loop.

The architecture follows the nnzoo config (``nnzoo.options.resolve``):

* dense: Linear layers with the card's hidden activation;
* conv: per conv-pool layer ``Conv2d(k×k, valid, stride 1) → activation →
  MaxPool2d(2)`` (as Keras's ``Conv2D(activation=...)`` then ``MaxPooling2D``),
  then Flatten and the fully-connected head;
* dropout: ``nn.Dropout(p)`` on the *input* of every fully-connected layer;
* output and cost: log-likelihood = ``log_softmax`` + ``nll_loss`` (mean over
  the mini-batch); the sigmoid-output costs use the book's sums over the 10
  outputs, averaged over the mini-batch: quadratic ``½‖σ(z) − y‖²``, and
  cross-entropy via ``binary_cross_entropy_with_logits(..., reduction="sum") / m``
  (the same function as sigmoid then the book's cross-entropy, fused);
* initialisation mirrors the card (``large``, ``default``, ``network3``);
* optimizer: plain ``torch.optim.SGD(lr=eta)``; the book's L2 is SGD's own
  ``weight_decay`` on the weights only (λ/n for network2, λ/(n//m) for
  network3), which is exactly the book's update rule.

The loop is the standard eager one: ``zero_grad``, forward, loss, ``backward``,
``step``, on mini-batches sliced from preloaded tensors (no DataLoader).
Nothing is tuned: torch's default thread count, default SGD implementation.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def build(config, book_code="network2.py", seed=0):
    """(model, optimizer, loss_fn, input_kind) mirroring an nnzoo config."""
    generator = torch.Generator().manual_seed(seed)
    act = _ACTIVATIONS[config["activation"]]
    layers = []
    init_plan = []  # (module, kind, extra) for the initialisation below
    conv = config.get("conv") or ()
    channels, side = 1, 28
    for filters, kernel in conv:
        conv_layer = nn.Conv2d(channels, filters, kernel)
        layers += [conv_layer, act(), nn.MaxPool2d(2)]
        init_plan.append((conv_layer, "conv", filters * kernel * kernel // 4))
        channels, side = filters, (side - kernel + 1) // 2
    layers.append(nn.Flatten())
    n_in = channels * side * side
    p = config.get("p_dropout") or 0.0
    for width in config["hidden"]:
        if p:
            layers.append(nn.Dropout(p))
        linear = nn.Linear(n_in, width)
        layers += [linear, act()]
        init_plan.append((linear, "hidden", width))
        n_in = width
    if p:
        layers.append(nn.Dropout(p))
    output = nn.Linear(n_in, 10)
    layers.append(output)
    init_plan.append((output, "output", 10))
    model = nn.Sequential(*layers)

    init = config["init"]
    with torch.no_grad():
        for module, kind, n_out in init_plan:
            weight, bias = module.weight, module.bias
            fan_in = weight[0].numel()
            if init == "network3" and kind == "output":
                weight.zero_()
                bias.zero_()
                continue
            if init == "large":
                weight.normal_(0.0, 1.0, generator=generator)
            elif init == "default":
                weight.normal_(0.0, 1.0 / np.sqrt(fan_in), generator=generator)
            elif init == "network3":
                weight.normal_(0.0, np.sqrt(1.0 / n_out), generator=generator)
            else:
                raise ValueError(f"unknown init {init!r}")
            bias.normal_(0.0, 1.0, generator=generator)

    weights = [m.weight for m, _, _ in init_plan]
    biases = [m.bias for m, _, _ in init_plan]
    lmbda = config["lmbda"]
    if lmbda and config["regularization"] != "l2":
        raise ValueError("only L2 is mirrored in PyTorch")
    if not lmbda:
        decay = 0.0
    elif book_code == "network3.py":
        decay = lmbda / (config["n_train"] // config["batch_size"])
    else:
        decay = lmbda / config["n_train"]
    optimizer = torch.optim.SGD(
        [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}],
        lr=config["eta"])

    cost = config["cost"]
    if cost == "log_likelihood":
        def loss_fn(z, target):
            return F.nll_loss(F.log_softmax(z, dim=1), target)
    elif cost == "cross_entropy":
        def loss_fn(z, target):
            return F.binary_cross_entropy_with_logits(z, target, reduction="sum") / z.shape[0]
    elif cost == "quadratic":
        def loss_fn(z, target):
            return 0.5 * (torch.sigmoid(z) - target).pow(2).sum() / z.shape[0]
    else:
        raise ValueError(f"unknown cost {cost!r}")
    return model, optimizer, loss_fn, ("image" if conv else "flat")


def prepare(x, y, cost, input_kind):
    """Torch tensors for the loop: inputs (N, 784) or (N, 1, 28, 28); targets as the cost wants."""
    x = np.ascontiguousarray(x, np.float32)
    x = x.reshape(len(x), 784) if input_kind == "flat" else x.reshape(len(x), 1, 28, 28)
    if cost == "log_likelihood":
        target = torch.from_numpy(np.asarray(y, np.int64))
    else:
        target = torch.from_numpy(np.eye(10, dtype=np.float32)[np.asarray(y)])
    return torch.from_numpy(x), target


def train_pass(model, optimizer, loss_fn, x, target, batch_size=10):
    """One pass over the tensors in order: the standard eager training loop."""
    model.train()
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        tb = target[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(xb), tb)
        loss.backward()
        optimizer.step()


def mean_cost(model, loss_fn, x, target, batch_size=1000):
    """The unregularized cost averaged over the examples (dropout off)."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            xb, tb = x[start:start + batch_size], target[start:start + batch_size]
            total += float(loss_fn(model(xb), tb)) * xb.shape[0]
    return total / x.shape[0]


def accuracy(model, x, labels, batch_size=1000):
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x[s:s + batch_size]) for s in range(0, x.shape[0], batch_size)])
    return float(np.mean(out.argmax(dim=1).numpy() == np.asarray(labels)))
