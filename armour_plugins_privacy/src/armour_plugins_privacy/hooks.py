"""Registration hooks (light: records only; implementations are imported on use). Each family — ``dp``,
``suppress``, ``inference`` — holds its records beside its algorithms."""

from __future__ import annotations

from armour_core.plugins import hookimpl
from armour_core.specs import AuditSectionSpec

from .dp import records as dp
from .inference import records as inference
from .suppress import records as suppress


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
    yield from suppress.suppressors()


@hookimpl
def armour_inference_attacks():
    yield from inference.inference_attacks()


@hookimpl
def armour_cli_commands():
    yield from dp.commands()
    yield from suppress.commands()
    yield from inference.commands()


@hookimpl
def armour_audit_sections():
    yield AuditSectionSpec(name="privacy", title="Privacy risk",
                           target="armour_plugins_privacy.audit_section:privacy_section", order=30,
                           precheck="armour_plugins_privacy.audit_section:precheck", profiles=AUDIT_PROFILES)


#: the privacy section per audit profile: membership-inference attacks (``lr`` is the ``classifier`` plugin's
#: logistic-regression method), points and LiRA's shadow models
AUDIT_PROFILES = {
    "quick": {"attacks": ["loss_threshold", "entropy"], "n": 300},
    "standard": {"attacks": ["loss_threshold", "entropy", "lr"], "n": 400},
    "thorough": {"attacks": ["loss_threshold", "entropy", "lr", "lira"], "n": 400, "shadows": 8},
}
