"""CLI subcommands contributed by the attacks distribution (CommandSpec records)."""

from __future__ import annotations


def commands():
    return ()
