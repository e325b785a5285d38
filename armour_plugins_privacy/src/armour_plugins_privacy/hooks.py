"""Registration hooks (light: records only; implementations are imported on use)."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .records import dp, risk


@hookimpl
def armour_noise_mechanisms():
    yield from dp.noise_mechanisms()


@hookimpl
def armour_clip_mechanisms():
    yield from dp.clip_mechanisms()


@hookimpl
def armour_accountants():
    yield from dp.accountants()


@hookimpl
def armour_suppressors():
    yield from risk.suppressors()


@hookimpl
def armour_inference_attacks():
    yield from risk.inference_attacks()


@hookimpl
def armour_cli_commands():
    yield from dp.commands()
    yield from risk.commands()


@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name="privacy", title="Privacy risk",
                           target="armour_plugins_privacy.audit_section:privacy_section", order=30,
                           profiles=AUDIT_PROFILES)


#: the privacy section per audit profile: membership-inference attacks (``lr`` is the ``classifier`` plugin's
#: logistic-regression method), points and LiRA's shadow models
AUDIT_PROFILES = {
    "quick": {"attacks": ["loss_threshold", "entropy"], "n": 300},
    "standard": {"attacks": ["loss_threshold", "entropy", "lr"], "n": 400},
    "thorough": {"attacks": ["loss_threshold", "entropy", "lr", "lira"], "n": 400, "shadows": 8},
}
