"""Records of the mutators. The category decides how the fuzzer may chain a mutator (affine at most once per
lineage). Adversarial mutators are not listed by name: the ``adversarial`` record adapts any attack whose
record says ``AttackSpec(fuzzing=True)`` (see ``armour_core.api.mutator.create_mutator``)."""

from __future__ import annotations

from armour_core.specs import MutatorSpec, PluginSpec

_PKG = "armour_plugins_fuzz"


def _mutator(name, module, cls, config, category, summary, aliases=(), capabilities=()):
    return PluginSpec(name=name, kind="mutator", target=f"{_PKG}.{module}:{cls}",
                      config=f"{_PKG}.configs:{config}", aliases=aliases, capabilities=capabilities,
                      facet=MutatorSpec(category=category), summary=summary)


def mutators():
    px, af = "pixel", "affine"
    yield _mutator("contrast", px, "Contrast", "ContrastConfig", px,
                   "Contrast about each image's mean and a brightness shift, per-sample factors")
    yield _mutator("gradient_luminance", px, "GradientLuminance", "GradientLuminanceConfig", px,
                   "Linear brightness ramp across the image (light from one side)")
    yield _mutator("gaussian_blur", px, "GaussianBlur", "GaussianBlurConfig", px,
                   "Gaussian blur with a per-sample standard deviation drawn from a range", aliases=("blur",))
    yield _mutator("motion_blur", px, "MotionBlur", "MotionBlurConfig", px,
                   "Linear motion blur of a per-sample length and direction")
    yield _mutator("gradient_blur", px, "GradientBlur", "GradientBlurConfig", px,
                   "Blur growing from none at one edge to a Gaussian sigma at the other")
    yield _mutator("uniform_noise", px, "UniformNoise", "UniformNoiseConfig", px,
                   "Additive uniform noise, amplitude a fraction of the data range")
    yield _mutator("gaussian_noise", px, "GaussianNoise", "GaussianNoiseConfig", px,
                   "Additive Gaussian noise, standard deviation a fraction of the data range")
    yield _mutator("salt_and_pepper", px, "SaltAndPepper", "SaltAndPepperConfig", px,
                   "A fraction of pixels set to the lower or upper bound")
    yield _mutator("natural_noise", px, "NaturalNoise", "NaturalNoiseConfig", px,
                   "Dust and specks: random spots of random size and brightness")
    yield _mutator("translate", "affine", "Translate", "TranslateConfig", af,
                   "Shift by a fraction of the width and height")
    yield _mutator("scale", "affine", "Scale", "ScaleConfig", af,
                   "Isotropic zoom about the image centre", aliases=("zoom",))
    yield _mutator("shear", "affine", "Shear", "ShearConfig", af, "Shear about the image centre")
    yield _mutator("rotate", "affine", "Rotate", "RotateConfig", af,
                   "Rotation about the image centre, without zoom", aliases=("rotation",))
    yield _mutator("perspective", "affine", "Perspective", "PerspectiveConfig", af,
                   "Projective warp moving each corner in a random direction")
    yield _mutator("curve", "affine", "Curve", "CurveConfig", af, "Sinusoidal bend of the rows")
    yield _mutator("adversarial", "adversarial", "AdversarialMutator", "AdversarialConfig", "adversarial",
                   "Any attack marked AttackSpec(fuzzing=True) as a mutator (per-sample eps levels)",
                   capabilities=("forward",))
