"""Mutator names resolved through the registry: registered mutators, plus every attack whose record says
``AttackSpec(fuzzing=True)`` as an adversarial mutator — no name lists. The Fuzzer, the adversarial adapter
and the CLI look mutators up here (core's ``api.mutator`` keeps only the base class, free of the registry).
"""

from __future__ import annotations

from typing import Any

from armour_core import registry as default_registry
from armour_core.api.mutator import Mutator
from armour_core.errors import ConfigError, UnknownPluginError


def adversarial_attack_names(registry: Any = None) -> list[str]:
    """Attacks whose record says they fit as adversarial mutators (``AttackSpec(fuzzing=True)``)."""
    reg = _registry(registry)
    out = []
    for spec in reg.specs("attack"):
        if getattr(spec.facet, "fuzzing", False) and not reg.availability("attack", spec.name):
            out.append(spec.name)
    return sorted(out)


def mutator_names(category: str | None = None, registry: Any = None) -> list[str]:
    """Every usable mutator name: registered mutators plus fuzzing-capable attacks (category
    ``adversarial``), optionally of one category."""
    reg = _registry(registry)
    names = {n: reg.spec("mutator", n).facet.category for n in reg.names("mutator")}
    names.pop("adversarial", None)  # the generic adapter: reached through the attacks' names
    for n in adversarial_attack_names(reg):
        names.setdefault(n, "adversarial")
    return sorted(n for n, c in names.items() if category is None or c == category)


def mutator_category(name: str, registry: Any = None) -> str:
    """A mutator's category, from its record (``MutatorSpec``), or ``adversarial`` for a fuzzing attack."""
    reg = _registry(registry)
    try:
        return reg.spec("mutator", name).facet.category
    except UnknownPluginError as mutator_error:
        try:
            spec = reg.spec("attack", name)
        except UnknownPluginError:
            raise mutator_error from None
        if not getattr(spec.facet, "fuzzing", False):
            raise UnknownPluginError(f"attack {spec.name!r} is not marked as usable for fuzzing "
                                     "(its AttackSpec has fuzzing=False); fuzzing attacks: "
                                     f"{', '.join(adversarial_attack_names(reg)) or 'none'}",
                                     kind="mutator", name=name) from None
        return "adversarial"


def create_mutator(name: str, *, model: Any = None, bounds: tuple[float, float] | None = None,
                   registry: Any = None, **config: Any) -> Mutator:
    """Instantiate mutator ``name``: a registered mutator, or a fuzzing attack wrapped as an adversarial
    mutator (``config`` then holds the adversarial mutator's settings, e.g. ``eps=(0.02, 0.1)``).

    ``model`` is passed to mutators whose record declares capabilities (they need the model); ``bounds``
    defaults to the model's.
    """
    reg = _registry(registry)
    if bounds is None and model is not None and hasattr(model, "bounds"):
        bounds = tuple(model.bounds)
    category = mutator_category(name, reg)
    if category == "adversarial" and name not in _mutator_keys(reg):
        if model is None:
            raise ConfigError(f"mutator {name!r} is an adversarial mutator: pass model=")
        if "attack" in config:
            raise ConfigError(f"mutator {name!r}: the attack is the mutator's name; do not pass attack=")
        kwargs = dict(config, attack=name, model=model)
        if bounds is not None:
            kwargs["bounds"] = bounds
        return reg.create("mutator", "adversarial", **kwargs)
    spec = reg.spec("mutator", name)
    kwargs = dict(config)
    if bounds is not None:
        kwargs["bounds"] = bounds
    if spec.capabilities:
        if model is None:
            raise ConfigError(f"mutator {name!r} needs a model ({', '.join(sorted(spec.capabilities))}): pass model=")
        kwargs["model"] = model
    return reg.create("mutator", name, **kwargs)


def _mutator_keys(reg: Any) -> set[str]:
    keys = set()
    for n in reg.names("mutator"):
        keys.update(reg.spec("mutator", n).names)
    return keys


def _registry(registry: Any):
    return registry if registry is not None else default_registry

