"""Records of the minimum-norm and optimisation attacks and the AutoAttack family."""

from __future__ import annotations


def attacks():
    return ()
