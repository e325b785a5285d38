"""CLI subcommands contributed by the fuzz distribution (CommandSpec records)."""

from __future__ import annotations


def commands():
    return ()
