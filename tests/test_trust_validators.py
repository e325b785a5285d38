"""Issue 9 item 15: one validator per parameter kind, shared by every config class of every kind.

numpy scalars are numbers like any other; a string number is refused with a message naming the field; eps is
finite wherever a config (re)defines it; an unknown norm lists the valid ones (never attrs' repr). The
registry-wide checks iterate whatever distributions are installed (only the built-ins in the core session);
nothing here imports MindSpore.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from armour_core.api.accountant import check_delta
from armour_core.api.base import make_config
from armour_core.api.validators import check_int, check_number, check_positive, check_probability
from armour_core.errors import ConfigError, InvalidInputError
from armour_core.testing.config_checks import (
    check_config_types,
    registered_configs,
)
from armour_core.testing.markers import requires_dists


CONFIGS = registered_configs()
IDS = [f"{k}:{n}" for k, n, _ in CONFIGS]


# ------------------------------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("value", [np.float32(1e-5), np.float64(1e-5), 1e-5, np.array(1e-5)])
def test_delta_accepts_numpy_scalars(value):
    assert check_delta(value) == pytest.approx(1e-5, rel=1e-6)


@pytest.mark.parametrize("check, args", [(check_number, ()), (check_positive, ()), (check_probability, ()),
                                         (check_int, ())])
def test_strings_are_refused_naming_the_argument(check, args):
    with pytest.raises(InvalidInputError, match="sigma.*string"):
        check("0.1", "sigma", *args)


def test_delta_string_is_refused_naming_delta():
    with pytest.raises(InvalidInputError, match="delta"):
        check_delta("0.1")


def test_int_check_accepts_numpy_ints_and_refuses_floats_and_bools():
    assert check_int(np.int64(3), "steps", low=1) == 3 and type(check_int(np.int64(3), "steps")) is int
    for bad in (3.0, True, "3"):
        with pytest.raises(InvalidInputError, match="steps"):
            check_int(bad, "steps")


# ------------------------------------------------------------------------------------------ every config class
@requires_dists("attacks", "privacy", "fuzz")  # armour-core's own built-ins register no config class
def test_registry_has_configs():
    assert CONFIGS, "plugin distributions are installed but no config class is registered"


def _core_configs() -> list[type]:
    from armour_core.api.attack import AttackConfig
    from armour_core.api.clip import ClipConfig
    from armour_core.api.coverage import CoverageConfig
    from armour_core.api.defense import DefenseConfig
    from armour_core.api.detector import DetectorConfig
    from armour_core.api.mutator import MutatorConfig
    from armour_core.api.noise import NoiseConfig
    from armour_core.api.scheduler import SchedulerConfig

    return [AttackConfig, ClipConfig, CoverageConfig, DefenseConfig, DetectorConfig, MutatorConfig, NoiseConfig,
            SchedulerConfig]


@pytest.mark.parametrize("cls", _core_configs(), ids=lambda c: c.__name__)
def test_core_base_configs_pass_every_check(cls):
    """The bases every plugin config extends; present in the core session too (no MindSpore needed)."""
    check_config_types(cls, cls.__name__)


@pytest.mark.parametrize("kind, name, cls", CONFIGS, ids=IDS)
def test_every_installed_config_passes_every_check(kind, name, cls):
    """numpy numbers accepted, strings refused naming the field, eps finite wherever a config has a scalar eps,
    an unknown norm answered with the valid ones, wrong types one line naming the field."""
    check_config_types(cls, name)


@requires_dists("attacks")
def test_apgd_and_square_refuse_infinite_eps():
    """They redefine ``eps``; the redefinition used to drop the finite check (issue 9 item 15)."""
    configs = {n: c for k, n, c in CONFIGS if k == "attack"}
    for name in ("apgd", "square"):
        with pytest.raises(ConfigError, match="eps"):
            make_config(configs[name], {"eps": math.inf}, owner=name)

