"""Records of the certified-robustness family (light: no implementation import): the ``certifier`` kind this
distribution declares, its plugins, the ``armour certify`` command and the audit section."""

from __future__ import annotations

from armour_core.specs import AuditSectionSpec, CommandSpec, KindSpec, PluginSpec

_PKG = "armour_plugins_attacks.certified"

#: the kind, declared through ``armour_kinds`` exactly as a third party would declare one
KIND = KindSpec(
    name="certifier", hook="armour_certifiers",
    summary="certified-robustness methods: predict with abstention, certify a radius around each input",
    base=f"{_PKG}.base:Certifier", checks=f"{_PKG}.kit:CHECKS",
    example='''yield PluginSpec(name="randomized_smoothing", kind="certifier",
                 target="my_pkg.smoothing:RandomizedSmoothing", capabilities={"forward"})''')


def kinds():
    yield KIND


def certifiers():
    yield PluginSpec(
        name="randomized_smoothing", kind="certifier", target=f"{_PKG}.smoothing:RandomizedSmoothing",
        config=f"{_PKG}.configs:SmoothingConfig", aliases=("smoothing", "cohen"), capabilities={"forward"},
        summary="Randomized smoothing (Cohen et al. 2019): Gaussian-noise majority vote, certified L2 radius "
                "from a Clopper-Pearson bound")


def commands():
    yield CommandSpec(name="certify", target=f"{_PKG}.cli:register_certify",
                      summary="certified L2 accuracy of the randomized-smoothing classifier at several radii")


#: the certified section per audit profile: noise level, points certified, selection/estimation samples, α and
#: the radii reported; cost on the embedded default in docs/certified.md
AUDIT_PROFILES = {
    "standard": {"sigma": 0.25, "n_points": 200, "n0": 100, "n": 2000, "alpha": 0.001,
                 "radii": [0.0, 0.1, 0.25, 0.4, 0.5]},  # n = 2000 certifies at most 0.66 at this σ, α
    "thorough": {"sigma": 0.25, "n_points": 450, "n0": 100, "n": 10000, "alpha": 0.001,
                 "radii": [0.0, 0.1, 0.25, 0.5, 0.75]},  # at most 0.80
}


def audit_sections():
    yield AuditSectionSpec(name="certified", title="Certified robustness (randomized smoothing)",
                           target=f"{_PKG}.audit_section:certified_section", order=15, profiles=AUDIT_PROFILES)
