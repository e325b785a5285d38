"""Records of the mutators. The category decides how the fuzzer may chain a mutator (affine at most once per
lineage); it is the module the mutator lives in (``pixel``, ``affine``, ``adversarial``). Adversarial mutators
are not listed by name: the ``adversarial`` record adapts any attack whose record says
``AttackSpec(fuzzing=True)`` (see :func:`armour_plugins_fuzz.mutators.resolve.create_mutator`)."""

from __future__ import annotations

from armour_core.specs import MutatorSpec

from ..records import family_spec

#: name, "module:Class" (the module is the category), aliases, summary
_MUTATORS = (
    ("contrast", "pixel:Contrast", (), "Contrast about each image's mean and a brightness shift, per-sample factors"),
    ("gradient_luminance", "pixel:GradientLuminance", (),
     "Linear brightness ramp across the image (light from one side)"),
    ("gaussian_blur", "pixel:GaussianBlur", ("blur",),
     "Gaussian blur with a per-sample standard deviation drawn from a range"),
    ("motion_blur", "pixel:MotionBlur", (), "Linear motion blur of a per-sample length and direction"),
    ("gradient_blur", "pixel:GradientBlur", (), "Blur growing from none at one edge to a Gaussian sigma at the other"),
    ("uniform_noise", "pixel:UniformNoise", (), "Additive uniform noise, amplitude a fraction of the data range"),
    ("gaussian_noise", "pixel:GaussianNoise", (),
     "Additive Gaussian noise, standard deviation a fraction of the data range"),
    ("salt_and_pepper", "pixel:SaltAndPepper", (), "A fraction of pixels set to the lower or upper bound"),
    ("natural_noise", "pixel:NaturalNoise", (), "Dust and specks: random spots of random size and brightness"),
    ("translate", "affine:Translate", (), "Shift by a fraction of the width and height"),
    ("scale", "affine:Scale", ("zoom",), "Isotropic zoom about the image centre"),
    ("shear", "affine:Shear", (), "Shear about the image centre"),
    ("rotate", "affine:Rotate", ("rotation",), "Rotation about the image centre, without zoom"),
    ("perspective", "affine:Perspective", (), "Projective warp moving each corner in a random direction"),
    ("curve", "affine:Curve", (), "Sinusoidal bend of the rows"),
    ("adversarial", "adversarial:AdversarialMutator", (),
     "Any attack marked AttackSpec(fuzzing=True) as a mutator (per-sample eps levels)"),
)

#: what a mutator needs from the model (only the adversarial adapter runs it)
_CAPABILITIES = {"adversarial": ("forward",)}
#: config classes not named <Class>Config
_CONFIGS = {"adversarial": "AdversarialConfig"}


def mutators():
    for name, target, aliases, summary in _MUTATORS:
        category = target.partition(":")[0]
        yield family_spec("mutator", "mutators", name, target, summary, aliases=aliases,
                          config=_CONFIGS.get(name),
                          capabilities=_CAPABILITIES.get(name, ()), facet=MutatorSpec(category=category))
