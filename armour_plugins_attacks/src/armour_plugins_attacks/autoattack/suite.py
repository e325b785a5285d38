"""AutoAttack (Croce & Hein, ICML 2020): a fixed, parameter-free ensemble reporting the point-wise worst case.

Members run one after the other, each on the samples every previous member failed on; a sample counts
as broken as soon as one member succeeds, and its adversarial point is that member's. Versions:

* ``standard``: APGD-CE, APGD-T (targeted DLR, top-9 classes), FAB-T (top-9 classes), Square (5,000
  queries);
* ``plus``: APGD-CE and APGD-DLR with 5 restarts, FAB with 5 restarts, Square with 5 restarts, APGD-T, FAB-T;
* ``rand`` (randomised defences): APGD-CE and APGD-DLR with Expectation over Transformation
  (``eot_samples`` gradient samples per step).

Every member draws its randomness for the whole batch (see the package docstring), so running it on the
remaining rows gives the same result per sample as running it alone: AutoAttack's robust accuracy is at
most each member's (``members()`` returns them, configured as used here).
"""

from __future__ import annotations

import numpy as np

from armour_core.api.attack import Attack
from armour_core.api.norms import clip_to_ball_and_bounds
from armour_core.progress import Progress

from .apgd import APGD
from ..blackbox.square import Square
from .configs import AutoAttackConfig
from ..minnorm.fab import FAB
from .records import RECORDS


class AutoAttack(Attack):
    """AutoAttack, L∞ and L2, untargeted; ``last_report`` holds per-member successes of the last call."""

    Config = AutoAttackConfig
    record = RECORDS["autoattack"]

    def members(self) -> list[tuple[str, Attack]]:
        """``(label, attack)`` pairs in the order they run, configured from this ensemble's config."""
        c = self.config
        common = dict(model=self.model, eps=c.eps, norm=c.norm, seed=c.seed)
        grad = dict(steps=c.steps)
        tc = c.target_classes
        if c.version == "standard":
            return [("apgd-ce", APGD(**common, **grad, loss="ce")),
                    ("apgd-t", APGD(**common, **grad, loss="dlr", target_classes=tc)),
                    ("fab-t", FAB(**common, **grad, target_classes=tc)),
                    ("square", Square(**common, max_queries=c.square_max_queries))]
        if c.version == "plus":
            return [("apgd-ce", APGD(**common, **grad, loss="ce", restarts=5)),
                    ("apgd-dlr", APGD(**common, **grad, loss="dlr", restarts=5)),
                    ("fab", FAB(**common, **grad, restarts=5)),
                    ("square", Square(**common, max_queries=c.square_max_queries, restarts=5)),
                    ("apgd-t", APGD(**common, **grad, loss="dlr", target_classes=tc)),
                    ("fab-t", FAB(**common, **grad, target_classes=tc))]
        eot = dict(eot_samples=c.eot_samples)
        return [("apgd-ce", APGD(**common, **grad, loss="ce", **eot)),
                ("apgd-dlr", APGD(**common, **grad, loss="dlr", **eot))]

    def _generate(self, x: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        model = self.model
        adv = x.copy()
        robust = np.asarray(model.predict(x)) == y
        report = {"clean_accuracy": float(robust.mean()), "members": []}
        members = self.members()
        with Progress(len(members), "AutoAttack", unit="attacks") as bar:
            for label, attack in members:
                if not robust.any():
                    break
                self._run_member(label, attack, x, y, adv, robust, report)
                bar.update(1, robust=f"{robust.mean():.3f}")
        self.last_report = report
        return adv

    def _run_member(self, label, attack, x, y, adv, robust, report) -> None:
        """Run one member on the rows still robust; update ``adv``, ``robust`` and ``report`` in place."""
        model = self.model
        attack._stream = getattr(self, "_stream", 0)
        out, _ = attack.attack_rows(x, y, None, robust.copy())
        if attack.minimum_norm and attack.config.eps is not None:
            out = clip_to_ball_and_bounds(x, out, attack.config.eps, attack.config.norm, model.bounds)
        rows = np.flatnonzero(robust)
        broken = rows[np.asarray(model.predict(out[rows])) != y[rows]]
        adv[broken] = out[broken]
        robust[broken] = False
        report["members"].append({"attack": label, "broken": int(broken.size),
                                  "robust_accuracy": float(robust.mean())})
