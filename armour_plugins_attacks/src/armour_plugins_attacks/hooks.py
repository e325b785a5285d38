"""Registration hooks (light: records only; implementations are imported on use)."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .records import blackbox, cli, defenses, detectors, minnorm, whitebox


@hookimpl
def armour_attacks():
    yield from whitebox.attacks()
    yield from minnorm.attacks()
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


@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name="robustness", title="Robustness",
                           target="armour_plugins_attacks.audit_section:robustness_section", order=10,
                           profiles=AUDIT_PROFILES)


#: the robustness section per audit profile: the attack suite, the small-input ε grid (as fractions of the input
#: range; image-sized inputs get k/255), points attacked and iterations of the iterative attacks
AUDIT_PROFILES = {
    "quick": {"attacks": ["fgsm", "pgd"], "small_eps": [0.05, 0.1, 0.2], "n": 200, "steps": 10},
    "standard": {"attacks": ["fgsm", "pgd", "autoattack"], "small_eps": [0.03, 0.05, 0.1, 0.2], "n": 300,
                 "steps": 20},
    "thorough": {"attacks": ["fgsm", "pgd", "autoattack", "deepfool", "cw", "square", "hsja"],
                 "small_eps": [0.02, 0.05, 0.1, 0.2, 0.3], "n": 300, "steps": 40},
}
