"""Records of the black-box (query) attacks."""

from __future__ import annotations

from armour_core.specs import AttackSpec, PluginSpec

_PKG = "armour_plugins_attacks"
_CFG = f"{_PKG}.blackbox.configs"


def _records():
    yield PluginSpec(
        name="hsja", kind="attack", target=f"{_PKG}.blackbox.hsja:HopSkipJump", config=f"{_CFG}:HopSkipJumpConfig",
        aliases=("hop_skip_jump", "hopskipjump"), capabilities={"forward"},
        facet=AttackSpec(norms=("l2", "linf"), threat_model="black_box", targeted=True, minimum_norm=True),
        summary="HopSkipJumpAttack (Chen et al. 2020): decision-based minimum-norm attack with boundary "
                "gradient estimation, L2/L∞")
    yield PluginSpec(
        name="nes", kind="attack", target=f"{_PKG}.blackbox.nes:NES", config=f"{_CFG}:NESConfig",
        aliases=("natural_evolution_strategies",), capabilities={"forward"},
        facet=AttackSpec(norms=("linf", "l2"), threat_model="black_box", targeted=True),
        summary="NES (Ilyas et al. 2018): antithetic Gaussian gradient estimates driving projected "
                "gradient steps, score-based")
    yield PluginSpec(
        name="genetic", kind="attack", target=f"{_PKG}.blackbox.genetic:GenAttack", config=f"{_CFG}:GeneticConfig",
        aliases=("genattack", "genetic_attack"), capabilities={"forward"},
        facet=AttackSpec(norms=("linf",), threat_model="black_box", targeted=True),
        summary="GenAttack (Alzantot et al. 2019): genetic search inside the L∞ ball with adaptive "
                "mutation, score-based")
    yield PluginSpec(
        name="pso", kind="attack", target=f"{_PKG}.blackbox.pso:PSO", config=f"{_CFG}:PSOConfig",
        aliases=("particle_swarm", "pso_attack"), capabilities={"forward"},
        facet=AttackSpec(norms=("linf", "l2"), threat_model="black_box", targeted=True),
        summary="Particle swarm optimisation of the log-odds inside the ε-ball, score-based")
    yield PluginSpec(
        name="pointwise", kind="attack", target=f"{_PKG}.blackbox.pointwise:Pointwise",
        config=f"{_CFG}:PointwiseConfig", aliases=("pointwise_attack",), capabilities={"forward"},
        facet=AttackSpec(norms=("l0",), threat_model="black_box", targeted=True, minimum_norm=True),
        summary="Pointwise attack (Schott et al. 2019): greedy L0 minimisation from salt-and-pepper noise, "
                "decision-based")
    yield PluginSpec(
        name="salt_and_pepper", kind="attack", target=f"{_PKG}.blackbox.noise:SaltAndPepper",
        config=f"{_CFG}:SaltAndPepperConfig", aliases=("salt_pepper", "salt_and_pepper_noise"),
        capabilities={"forward"},
        facet=AttackSpec(norms=("l0", "l2", "linf"), threat_model="black_box", targeted=False,
                         minimum_norm=True, fuzzing=True),
        summary="Salt-and-pepper noise of increasing density until the decision changes, decision-based")
    yield PluginSpec(
        name="square", kind="attack", target=f"{_PKG}.blackbox.square:Square", config=f"{_CFG}:SquareConfig",
        capabilities={"forward"},
        facet=AttackSpec(norms=("linf", "l2"), threat_model="black_box", targeted=True),
        summary="Square Attack (Andriushchenko et al. 2020): score-based random search, L∞ and L2, "
                "query budget")


#: the family's records by name: the one declaration of each algorithm's facts (norms, targeting, needed
#: capabilities); implementation classes name theirs in ``record`` and configs read their norms from it
RECORDS = {s.name: s for s in _records()}


def attacks():
    yield from RECORDS.values()
