"""armour-plugins-privacy: DP noise and clipping mechanisms, accountants, suppressors, membership inference."""

__version__ = "0.1.0"
