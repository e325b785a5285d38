"""Records of the black-box (query) attacks."""

from __future__ import annotations


def attacks():
    return ()
