"""Adversarial-example detectors (kind ``detector``): MagNet, region-based, spatial smoothing, feature
squeezing, stateful similarity and ensembles. Implementation modules import MindSpore or SciPy; the
records in :mod:`armour_plugins_attacks.records.detectors` and :mod:`.configs` stay light."""
