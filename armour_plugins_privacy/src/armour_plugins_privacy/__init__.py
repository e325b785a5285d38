"""armour-plugins-privacy: DP noise and clipping mechanisms, accountants, suppressors, membership inference,
and the DP validator (``from armour_plugins_privacy import validator``: which networks DP-SGD trains soundly,
``validator.fix(net)`` for the rest)."""

__version__ = "0.1.0"
