"""Records of the fuzzer's seed schedulers."""

from __future__ import annotations


def schedulers():
    return ()
