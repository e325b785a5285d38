"""``armour audit``: one command, one report — robustness, testing and privacy risk of a model.

Sections come from plugin distributions (hook ``armour_audit_sections``); a section whose distribution is
not installed says which ``pip install`` adds it. See :func:`armour_core.audit.runner.run_audit`.
"""

from .context import AuditContext, SectionResult
from .profiles import PROFILES

__all__ = ["AuditContext", "SectionResult", "PROFILES"]
