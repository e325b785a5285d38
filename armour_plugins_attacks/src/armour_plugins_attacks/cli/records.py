"""CLI subcommands contributed by the attacks distribution (CommandSpec records)."""

from __future__ import annotations

from armour_core.specs import CommandSpec


def commands():
    yield CommandSpec(name="attack", target="armour_plugins_attacks.cli.commands:register_attack",
                      summary="run one attack on a model and save the adversarial examples and metrics")
    yield CommandSpec(name="evaluate", target="armour_plugins_attacks.cli.commands:register_evaluate",
                      summary="robustness suite: robust accuracy per eps, worst case, warnings, JSON + HTML report")
    yield CommandSpec(name="defend", target="armour_plugins_attacks.cli.commands:register_defend",
                      summary="adversarially train a model with a defense; checkpoint, JSON + HTML report")
