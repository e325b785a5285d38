"""CLI subcommands contributed by the fuzz distribution (CommandSpec records)."""

from __future__ import annotations

from armour_core.specs import CommandSpec


def commands():
    yield CommandSpec(name="fuzz", target="armour_plugins_fuzz.cli:register",
                      summary="coverage-guided fuzz testing with mutators, coverage and schedulers from the registry")
