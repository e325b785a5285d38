"""Conformance kit for the detectors: records, configs, ``detect == score > threshold`` and the clean
false-positive rate on the fitting data never above ``fpr``."""

from __future__ import annotations

import numpy as np

from armour_core import registry
from armour_core.specs import DetectorSpec
from armour_core.testing import DetectorContract, check


class _Facet:
    def test_record_facet(self):
        spec = self.spec()
        impl = registry.get("detector", self.name)
        check(isinstance(spec.facet, DetectorSpec), f"{self.name}: facet must be a DetectorSpec")
        check(bool(spec.facet.needs_training) == bool(impl.needs_training), "needs_training differs")


class TestMagNetError(_Facet, DetectorContract):
    name = "magnet_error"
    config = {"epochs": 2}


class TestMagNetDivergence(_Facet, DetectorContract):
    name = "magnet_divergence"
    config = {"epochs": 2}


class TestRegionBased(_Facet, DetectorContract):
    name = "region_based"
    config = {"samples": 20, "search_steps": 4, "search_inputs": 64}


class TestSpatialSmoothing(_Facet, DetectorContract):
    name = "spatial_smoothing"


class TestFeatureSqueezing(_Facet, DetectorContract):
    name = "feature_squeezing"


class TestEnsemble(_Facet, DetectorContract):
    name = "ensemble"
    config = {"members": ["spatial_smoothing", "feature_squeezing"], "rule": "any"}


class TestSimilarity(_Facet, DetectorContract):
    name = "similarity"
    config = {"k": 5, "buffer_size": 100, "fpr": 0.05}

    def test_threshold_semantics(self, request, armour_digits):
        """Stateful: each call sees the history, so compare score and detect on fresh histories."""
        x = armour_digits.x_train[: self.n_fit]
        det = self.make(request).fit(x)
        s = det.score(x)
        check(s.shape == (len(x),) and np.all(np.isfinite(s)))
        flagged = list(det.detections)
        check(flagged == list(np.flatnonzero(s > det.threshold)), "detections disagree with the scores")
        det.reset()
        check(np.array_equal(det.detect(x), s > det.threshold))
        check(np.mean(s > det.threshold) <= det.config.fpr + 1e-12, "benign stream flagged above the target FPR")
        check(registry.spec("detector", self.name).facet.stateful)
