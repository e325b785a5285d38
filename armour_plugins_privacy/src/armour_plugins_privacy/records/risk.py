"""Records of suppress-privacy policies and membership-inference attacks."""

from __future__ import annotations


def suppressors():
    return ()


def inference_attacks():
    return ()


def commands():
    """CLI subcommands (CommandSpec records)."""
    return ()
