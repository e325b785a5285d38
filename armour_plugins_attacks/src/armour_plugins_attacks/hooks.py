"""Registration hooks (light: records only; implementations are imported on use).

Each family package holds its own records; this module only yields them."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .autoattack import records as autoattack
from .blackbox import records as blackbox
from .certified import records as certified
from .cli import records as cli
from .defenses import records as defenses
from .detectors import records as detectors
from .gradient import records as gradient
from .minnorm import records as minnorm


@hookimpl
def armour_kinds():
    yield from certified.kinds()  # "certifier": declared here, as any distribution may declare a kind


@hookimpl
def armour_certifiers():
    yield from certified.certifiers()


@hookimpl
def armour_attacks():
    yield from gradient.attacks()
    yield from minnorm.attacks()
    yield from autoattack.attacks()
    yield from blackbox.attacks()


@hookimpl
def armour_defenses():
    yield from defenses.defenses()


@hookimpl
def armour_detectors():
    yield from detectors.detectors()


@hookimpl
def armour_cli_commands():
    yield from cli.commands()
    yield from certified.commands()


@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name="robustness", title="Robustness",
                           target="armour_plugins_attacks.cli.audit_section:robustness_section", order=10,
                           profiles=AUDIT_PROFILES)
    yield from certified.audit_sections()


#: the robustness section per audit profile: the attack suite, the small-input ε grid (as fractions of the input
#: range; image-sized inputs get k/255), points attacked and iterations of the iterative attacks
AUDIT_PROFILES = {
    "quick": {"attacks": ["fgsm", "pgd"], "small_eps": [0.05, 0.1, 0.2], "n": 200, "steps": 10},
    "standard": {"attacks": ["fgsm", "pgd", "autoattack"], "small_eps": [0.03, 0.05, 0.1, 0.2], "n": 300,
                 "steps": 20},
    "thorough": {"attacks": ["fgsm", "pgd", "autoattack", "deepfool", "cw", "square", "hsja"],
                 "small_eps": [0.02, 0.05, 0.1, 0.2, 0.3], "n": 300, "steps": 40},
}
