"""The distribution as a whole (conformance kit): records valid and unique, listing import-light, only its
own kinds, and helpful errors for the kinds its sibling distributions provide."""

from armour_core.testing import DistributionContract


class TestDistribution(DistributionContract):
    dist = "armour-plugins-fuzz"
