"""Adversarial-example detectors (kind ``detector``): MagNet, region-based, spatial smoothing, feature
squeezing, stateful similarity and ensembles. Implementation modules import MindSpore or SciPy; the
records in :mod:`armour_plugins_attacks.detectors.records` and :mod:`.configs` stay light."""
