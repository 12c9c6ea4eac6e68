"""The NumPy reference: the book's mini-batch SGD, fully matrix-based (float32).

Chapter 2 of the book suggests computing backpropagation for a whole
mini-batch at once instead of looping over its examples. This is that
implementation, written for speed with plain NumPy:

* forward:  Z^l = A^{l-1} W^l + b^l,  A^l = act(Z^l)         (one matmul per layer)
* BP1:      Δ^L = A^L − Y                      (cross-entropy + sigmoid, log-likelihood + softmax)
            Δ^L = (A^L − Y) ⊙ A^L ⊙ (1 − A^L)   (quadratic + sigmoid)
* BP2:      Δ^l = (Δ^{l+1} W^{l+1 T}) ⊙ act'(Z^l)
* BP3/BP4:  ∂C/∂b^l = Σ_rows Δ^l,  ∂C/∂W^l = A^{l-1 T} Δ^l    (summed over the mini-batch)
* update:   W ← (1 − ηλ/n) W − (η/m) ∂C/∂W   (network2 L2; no decay when λ = 0)
            W ← W − η (λ/(n//m)) W − (η/m) ∂C/∂W (network3 L2),  b ← b − (η/m) ∂C/∂b

W has shape (n_in, n_out) as in Keras, one example per row. Everything is
float32 and computed in preallocated buffers with ``out=`` arguments, so a step
allocates almost nothing. Since BP2 is linear in Δ, Δ^L is scaled by η/m once
and the scaling carries through every layer. Dense networks only.
"""

import numpy as np

ACTIVATIONS = ("sigmoid", "tanh", "relu")
COSTS = ("quadratic", "cross_entropy", "log_likelihood")
OUTPUT_ACTIVATION = {"quadratic": "sigmoid", "cross_entropy": "sigmoid", "log_likelihood": "softmax"}


def _activate_inplace(name, z):
    if name == "sigmoid":  # σ(z) = ½(1 + tanh(z/2)): no overflow, float32 throughout
        z *= 0.5
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5
    elif name == "tanh":
        np.tanh(z, out=z)
    elif name == "relu":
        np.maximum(z, 0.0, out=z)
    elif name == "softmax":
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"unknown activation {name!r}")


def _times_derivative_inplace(name, delta, a, tmp):
    """delta ⊙= act'(z), written with the activation a = act(z)."""
    if name == "sigmoid":  # σ' = a(1 − a)
        np.subtract(1.0, a, out=tmp)
        tmp *= a
        delta *= tmp
    elif name == "tanh":  # 1 − a²
        np.multiply(a, a, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        delta *= tmp
    elif name == "relu":  # 1 where a > 0
        np.greater(a, 0.0, out=tmp, casting="unsafe")
        delta *= tmp
    else:
        raise ValueError(f"unknown activation {name!r}")


class NumpyNet:
    """A dense network trained with the book's matrix-based mini-batch SGD.

    Args:
        sizes: layer widths, e.g. ``[784, 30, 10]``.
        activation: hidden activation (``sigmoid``, ``tanh``, ``relu``).
        cost: ``quadratic``, ``cross_entropy`` or ``log_likelihood`` (softmax output).
        eta: learning rate η.
        lmbda, regularization, n, batch_size: the book's L2 (``l2`` is network2's
            λ/n scaling unless ``style="network3"``, which divides by n//batch_size).
        init: ``large`` N(0,1), ``default`` N(0,1/√n_in) weights, ``network3``
            N(0, √(1/n_out)) weights and a zero output layer; biases N(0,1).
        seed: the NumPy seed of the initial weights.
    """

    def __init__(self, sizes, *, activation="sigmoid", cost="cross_entropy", eta=0.1, lmbda=0.0,
                 regularization="l2", n=50_000, batch_size=10, init="default", style="network2",
                 seed=0):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        if lmbda and regularization != "l2":
            raise ValueError(f"only L2 is implemented, got regularization={regularization!r}")
        self.sizes = list(sizes)
        self.cost = cost
        self.acts = [activation] * (len(sizes) - 2) + [OUTPUT_ACTIVATION[cost]]
        self.eta = np.float32(eta)
        if not lmbda:
            self.decay = None
        elif style == "network3":
            self.decay = np.float32(1.0 - eta * lmbda / (n // batch_size))
        else:
            self.decay = np.float32(1.0 - eta * lmbda / n)
        rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = index == len(sizes) - 2
            if init == "large":
                w, b = rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
            elif init == "default":
                w, b = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), rng.standard_normal(n_out)
            elif init == "network3":
                if last:
                    w, b = np.zeros((n_in, n_out)), np.zeros(n_out)
                else:
                    w, b = rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_out), rng.standard_normal(n_out)
            else:
                raise ValueError(f"unknown init {init!r}")
            self.W.append(np.ascontiguousarray(w, dtype=np.float32))
            self.b.append(np.ascontiguousarray(b, dtype=np.float32))
        self._buffers = {}

    @classmethod
    def from_config(cls, config, book_code="network2.py", seed=0):
        """Mirror an nnzoo config (``nnzoo.options.resolve``) of a dense card."""
        if config.get("conv"):
            raise ValueError("the NumPy reference covers dense networks only")
        if config.get("p_dropout"):
            raise ValueError("the NumPy reference has no dropout")
        return cls(
            [784, *config["hidden"], 10], activation=config["activation"], cost=config["cost"],
            eta=config["eta"], lmbda=config["lmbda"], regularization=config["regularization"],
            n=config["n_train"], batch_size=config["batch_size"], init=config["init"],
            style="network3" if book_code == "network3.py" else "network2", seed=seed)

    # ------------------------------------------------------------------ buffers

    def _get_buffers(self, m):
        buffers = self._buffers.get(m)
        if buffers is None:
            widths = self.sizes[1:]
            buffers = dict(
                a=[np.empty((m, w), np.float32) for w in widths],       # activations A^l
                d=[np.empty((m, w), np.float32) for w in widths],       # errors Δ^l (scaled by η/m)
                t=[np.empty((m, w), np.float32) for w in widths],       # act' scratch
                gw=[np.empty_like(w) for w in self.W],                   # (η/m) ∂C/∂W
                gb=[np.empty_like(b) for b in self.b],                   # (η/m) ∂C/∂b
            )
            self._buffers[m] = buffers
        return buffers

    # ------------------------------------------------------------------ training

    def step(self, x, y):
        """One SGD step on the mini-batch ``x`` (m, 784) float32, ``y`` (m, 10) one-hot float32."""
        m = x.shape[0]
        buf = self._get_buffers(m)
        a_bufs, d_bufs, t_bufs, gw, gb = buf["a"], buf["d"], buf["t"], buf["gw"], buf["gb"]
        W, b, acts = self.W, self.b, self.acts
        n_layers = len(W)
        # forward: one matrix product per layer for the whole mini-batch
        a = x
        for l in range(n_layers):
            z = a_bufs[l]
            np.matmul(a, W[l], out=z)
            z += b[l]
            _activate_inplace(acts[l], z)
            a = z
        # BP1, scaled by η/m
        d = d_bufs[-1]
        np.subtract(a, y, out=d)
        if self.cost == "quadratic":
            _times_derivative_inplace("sigmoid", d, a, t_bufs[-1])
        d *= self.eta / np.float32(m)
        # BP2-BP4 and the update, from the last layer back
        for l in range(n_layers - 1, -1, -1):
            a_prev = x if l == 0 else a_bufs[l - 1]
            if l > 0:  # BP2 uses W^l before it is updated
                d_prev = d_bufs[l - 1]
                np.matmul(d, W[l].T, out=d_prev)
                _times_derivative_inplace(acts[l - 1], d_prev, a_prev, t_bufs[l - 1])
            np.matmul(a_prev.T, d, out=gw[l])   # BP4
            np.sum(d, axis=0, out=gb[l])         # BP3
            if self.decay is not None:
                W[l] *= self.decay
            W[l] -= gw[l]
            b[l] -= gb[l]
            if l > 0:
                d = d_prev

    def train_pass(self, x, y, batch_size=10):
        """One pass over ``x`` (N, 784) / ``y`` (N, 10) in order, mini-batches of ``batch_size``."""
        step = self.step
        for start in range(0, x.shape[0], batch_size):
            step(x[start:start + batch_size], y[start:start + batch_size])

    # ------------------------------------------------------------------ evaluation

    def forward(self, x):
        a = np.asarray(x, np.float32)
        for W, b, act in zip(self.W, self.b, self.acts):
            a = a @ W + b
            _activate_inplace(act, a)
        return a

    def mean_cost(self, x, y):
        """The book's unregularized cost C₀: mean over the examples, summed over the outputs."""
        a = self.forward(x).astype(np.float64)
        y = np.asarray(y, np.float64)
        eps = 1e-7
        if self.cost == "quadratic":
            per_example = 0.5 * np.sum((y - a) ** 2, axis=1)
        elif self.cost == "cross_entropy":
            a = np.clip(a, eps, 1 - eps)
            per_example = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)
        else:
            per_example = -np.sum(y * np.log(np.clip(a, eps, 1.0)), axis=1)
        return float(per_example.mean())

    def accuracy(self, x, labels):
        return float(np.mean(np.argmax(self.forward(x), axis=1) == labels))
