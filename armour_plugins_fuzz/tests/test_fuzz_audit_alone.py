"""`armour audit` with this distribution (installed alone in its nox session): its section runs and the
sections of distributions that are not installed say which `pip install` adds them."""

from armour_core.testing.audit import check_audit_alone


def test_audit_section_runs_and_missing_siblings_are_placeholders(tmp_path):
    check_audit_alone("testing", tmp_path)
