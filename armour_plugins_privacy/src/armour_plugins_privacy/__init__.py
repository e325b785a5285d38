"""armour-plugins-privacy: one package per family — ``dp`` (the DPModel engine, ledger, calibration, noise,
clipping, accountants, and the DP validator: ``from armour_plugins_privacy.dp import validator`` says which
networks DP-SGD trains soundly, ``validator.fix(net)`` repairs the rest), ``suppress`` (SuppressModel and the
suppressors) and ``inference`` (membership-inference attacks)."""

__version__ = "0.1.0"
