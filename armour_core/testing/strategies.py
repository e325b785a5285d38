"""Hypothesis strategies for plugin tests: input batches, bounds, seeds, epsilons and sparsities."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

seeds = st.integers(min_value=0, max_value=2**31 - 1)
probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
sparsities = st.floats(min_value=0.0, max_value=0.95, allow_nan=False)


@st.composite
def bounds(draw) -> tuple[float, float]:
    """Data ranges seen in practice: [0, 1], [0, 255] or [-1, 1]."""
    return draw(st.sampled_from([(0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)]))


@st.composite
def image_batches(draw, *, min_n: int = 1, max_n: int = 4, channels=(1, 3), sizes=(8, 12),
                  value_bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """A float32 (N, C, H, W) batch inside its bounds, and the bounds."""
    b = value_bounds or draw(bounds())
    n = draw(st.integers(min_n, max_n))
    c = draw(st.sampled_from(channels))
    h = draw(st.sampled_from(sizes))
    w = draw(st.sampled_from(sizes))
    unit = draw(hnp.arrays(np.float32, (n, c, h, w),
                           elements=st.floats(0.0, 1.0, width=32, allow_nan=False, allow_infinity=False)))
    return (b[0] + (b[1] - b[0]) * unit).astype(np.float32), b


def epsilons(norm: str, *, max_linf: float = 0.3, max_l2: float = 3.0):
    if norm == "linf":
        return st.floats(0.0, max_linf, allow_nan=False)
    if norm in ("l2", "l1"):
        return st.floats(0.0, max_l2 if norm == "l2" else 10 * max_l2, allow_nan=False)
    return st.integers(0, 20).map(float)


def subsets(n: int):
    """A sorted, non-empty subset of ``range(n)`` (which samples of a fixed batch to use)."""
    return st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True).map(sorted)


# ------------------------------------------------------------------------------ random MindSpore classifiers
#: activations a random block may use (class names in ``mindspore.nn``)
ACTIVATIONS = ("ReLU", "Tanh", "GELU", "Sigmoid")


def _conv_out(size: int, k: int, s: int, pad_mode: str) -> int:
    if pad_mode == "same":
        return -(-size // s)
    if pad_mode == "valid":
        return (size - k) // s + 1
    return (size + 2 * (k // 2) - k) // s + 1  # "pad" with padding k // 2 on both sides


@st.composite
def _conv_spec(draw, c: int, h: int, w: int, *, keep_shape: bool = False) -> tuple[dict, tuple[int, int, int]]:
    """A Conv2d that fits a (c, h, w) input; ``keep_shape``: same channels and size (residual / reuse)."""
    kernels = [k for k in ((1, 1), (3, 3), (5, 5), (1, 3), (3, 1), (3, 5)) if k[0] <= h and k[1] <= w]
    k = draw(st.sampled_from(kernels))
    if keep_shape:
        s, pad_mode, out = 1, draw(st.sampled_from(("same", "pad"))), c
    else:
        s = draw(st.sampled_from((1, 2)))
        pad_mode = draw(st.sampled_from(("same", "valid", "pad")))
        out = draw(st.sampled_from((2, 3, 4, 6)))
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0 and out % g == 0]))
    ho, wo = _conv_out(h, k[0], s, pad_mode), _conv_out(w, k[1], s, pad_mode)
    spec = {"kind": "conv", "in": c, "out": out, "kernel": k, "stride": s, "pad_mode": pad_mode,
            "group": groups, "bias": draw(st.booleans())}
    return spec, (out, ho, wo)


@st.composite
def _block_specs(draw, c: int, h: int, w: int, max_blocks: int,
                 residual: bool) -> tuple[list[dict], tuple[int, int, int]]:
    """Plain layers plus one reused cell and (``residual``) one residual add, in a random order."""
    kinds = draw(st.lists(st.sampled_from(("conv", "norm", "act", "pool")), min_size=1, max_size=max_blocks))
    kinds += ["reuse", "residual"] if residual else ["reuse"]
    kinds = draw(st.permutations(kinds))
    blocks = []
    for kind in kinds:
        if kind == "conv":
            spec, (c, h, w) = draw(_conv_spec(c, h, w))
        elif kind == "norm":
            norm = draw(st.sampled_from(("BatchNorm2d", "LayerNorm", "GroupNorm")))
            spec = {"kind": "norm", "type": norm, "shape": (c, h, w),
                    "groups": draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))}
        elif kind == "act":
            spec = {"kind": "act", "type": draw(st.sampled_from(ACTIVATIONS))}
        elif kind == "pool":
            if min(h, w) < 2:
                continue
            spec = {"kind": "pool", "type": draw(st.sampled_from(("MaxPool2d", "AvgPool2d")))}
            h, w = h // 2, w // 2
        elif kind == "reuse":  # the same activation twice around a conv, or the same conv applied twice
            conv, _ = draw(_conv_spec(c, h, w, keep_shape=True))
            spec = {"kind": "reuse", "conv": conv, "act": draw(st.sampled_from(ACTIVATIONS)),
                    "conv_twice": draw(st.booleans())}
        else:
            conv, _ = draw(_conv_spec(c, h, w, keep_shape=True))
            spec = {"kind": "residual", "conv": conv, "act": draw(st.sampled_from(ACTIVATIONS))}
        blocks.append(spec)
    return blocks, (c, h, w)


def _build_layer(spec: dict):
    from mindspore import nn

    if spec["kind"] == "conv":
        kh, kw = spec["kernel"]
        padding = (kh // 2, kh // 2, kw // 2, kw // 2) if spec["pad_mode"] == "pad" else 0
        return nn.Conv2d(spec["in"], spec["out"], spec["kernel"], stride=spec["stride"], pad_mode=spec["pad_mode"],
                         padding=padding, group=spec["group"], has_bias=spec["bias"])
    if spec["kind"] == "act":
        return getattr(nn, spec["type"])()
    if spec["kind"] == "pool":
        return getattr(nn, spec["type"])(kernel_size=2, stride=2)
    c = spec["shape"][0]
    if spec["type"] == "BatchNorm2d":
        return nn.BatchNorm2d(c)
    if spec["type"] == "GroupNorm":
        return nn.GroupNorm(spec["groups"], c)
    return nn.LayerNorm(spec["shape"], begin_norm_axis=1, begin_params_axis=1)


def build_classifier(spec: dict):
    """The classifier ``spec`` describes (a drawn network's ``spec`` attribute: rebuilds it, bit-identical, to
    reproduce a failure), with weights seeded by ``spec["seed"]``. MindSpore is imported here, on first use."""
    import mindspore as ms
    from mindspore import nn

    class Reuse(nn.Cell):
        """One activation cell called twice; with ``twice`` the conv is applied twice as well."""

        def __init__(self, conv, act, twice):
            super().__init__()
            self.conv, self.act, self.twice = conv, act, twice

        def construct(self, x):
            h = self.conv(self.act(x))
            if self.twice:
                h = self.conv(self.act(h))
            return self.act(h)

    class Residual(nn.Cell):
        def __init__(self, conv, act):
            super().__init__()
            self.conv, self.act = conv, act

        def construct(self, x):
            return x + self.act(self.conv(x))

    class RandomClassifier(nn.Cell):
        def __init__(self, layers, head, softmax):
            super().__init__()
            self.features = nn.SequentialCell(layers)
            self.flatten = nn.Flatten()
            self.head = head
            self.softmax = nn.Softmax(axis=-1) if softmax else None

        def construct(self, x):
            z = self.head(self.flatten(self.features(x)))
            if self.softmax is not None:
                z = self.softmax(z)
            return z

    layers = []
    for block in spec["blocks"]:
        if block["kind"] == "reuse":
            layers.append(Reuse(_build_layer(block["conv"]), getattr(nn, block["act"])(), block["conv_twice"]))
        elif block["kind"] == "residual":
            layers.append(Residual(_build_layer(block["conv"]), getattr(nn, block["act"])()))
        else:
            layers.append(_build_layer(block))
    net = RandomClassifier(layers, nn.Dense(spec["features"], spec["classes"]), spec["softmax"])
    rng = np.random.default_rng(spec["seed"])
    for p in net.get_parameters():
        name = p.name.rsplit(".", 1)[-1]
        if name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 2.0, p.shape)
        elif name in ("beta", "moving_mean", "bias"):
            value = rng.normal(0.0, 0.3, p.shape)
        else:  # weights: unit-variance pre-activations, so predictions vary from sample to sample
            value = rng.normal(0.0, 1.5 / np.sqrt(max(1, int(np.prod(p.shape[1:])))), p.shape)
        p.set_data(ms.Tensor(value.astype(np.float32)))
    net.input_shape, net.num_classes, net.outputs_probabilities = spec["input"], spec["classes"], spec["softmax"]
    net.spec = spec
    return net


@st.composite
def random_classifiers(draw, *, max_blocks: int = 3, channels=(1, 3), sizes=(5, 12), classes=(2, 10),
                       probabilities: bool | None = None, residual: bool | None = True):
    """A small, never-called MindSpore image classifier with seeded weights (deterministic per draw).

    Channel-first input ``(C, H, W)``; a random mix of Conv2d (odd and non-square kernels, stride 1/2, every
    ``pad_mode``, grouped when the channels allow), BatchNorm2d / LayerNorm / GroupNorm, ReLU / Tanh / GELU /
    Sigmoid, max / average pooling, always one cell called twice in ``construct`` and one residual add (when
    ``residual``; drawn when None: without it the leaf calls form a chain, which armour captures through a
    compiled pass instead of hooks); then Flatten + Dense to K classes, and a Softmax when ``probabilities``
    (drawn when None). The network carries
    ``input_shape``, ``num_classes``, ``outputs_probabilities`` and ``spec`` attributes (``spec`` is the drawn
    description: print it in a failure report; :func:`build_classifier` rebuilds the same network from it).
    MindSpore is imported only when a network is drawn.
    """
    c = draw(st.sampled_from(channels))
    h = w = draw(st.integers(*sizes))
    with_residual = draw(st.booleans()) if residual is None else residual
    blocks, (co, ho, wo) = draw(_block_specs(c, h, w, max_blocks, with_residual))
    k = draw(st.integers(*classes))
    probs = draw(st.booleans()) if probabilities is None else probabilities
    return build_classifier({"input": (c, h, w), "blocks": blocks, "features": co * ho * wo, "classes": k,
                             "softmax": probs, "seed": draw(seeds)})
