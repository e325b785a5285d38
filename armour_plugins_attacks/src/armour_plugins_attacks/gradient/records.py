"""Records of the white-box gradient attacks, single step and iterative (light: no implementation import)."""

from __future__ import annotations

from armour_core.specs import AttackSpec, PluginSpec

_PKG = "armour_plugins_attacks.gradient"


def _attack(name: str, target: str, config: str, *, norms: tuple[str, ...], targeted: bool, summary: str,
            aliases: tuple[str, ...] = (), fuzzing: bool = False) -> PluginSpec:
    return PluginSpec(
        name=name, kind="attack", target=f"{_PKG}.{target}", config=f"{_PKG}.configs:{config}", aliases=aliases,
        capabilities={"gradients"}, summary=summary,
        facet=AttackSpec(norms=norms, threat_model="white_box", targeted=targeted, fuzzing=fuzzing))


def _records():
    # ---------------------------------------------------------------- single step
    yield _attack("fgsm", "single_step:FGSM", "FGSMConfig", norms=("linf",), targeted=True, fuzzing=True,
                  aliases=("fast_gradient_sign_method",),
                  summary="Fast gradient sign method (Goodfellow et al. 2015): one signed-gradient step of size eps")
    yield _attack("fgm", "single_step:FGM", "FGMConfig", norms=("l2", "l1"), targeted=True,
                  aliases=("fast_gradient_method",),
                  summary="Fast gradient method: one L2 (normalised gradient) or sparse L1 step of length eps")
    yield _attack("rfgsm", "single_step:RFGSM", "RFGSMConfig", norms=("linf",), targeted=True,
                  aliases=("r_fgsm", "random_fgsm"),
                  summary="R+FGSM (Tramèr et al. 2018): random sign step alpha, then a gradient sign step eps - alpha")
    yield _attack("rfgm", "single_step:RFGM", "RFGMConfig", norms=("l2",), targeted=True, aliases=("random_fgm",),
                  summary="L2 R+FGM: random L2 step alpha (Gaussian direction), then a normalised gradient "
                          "step eps - alpha")
    yield _attack("llc", "single_step:LLC", "LLCConfig", norms=("linf", "l2"), targeted=False,
                  aliases=("least_likely_class",),
                  summary="Least-likely class method (Kurakin et al. 2017): one step towards the class the "
                          "model finds least likely")
    yield _attack("rllc", "single_step:RLLC", "RLLCConfig", norms=("linf", "l2"), targeted=False,
                  aliases=("random_least_likely_class", "r_step_ll"),
                  summary="R+Step-LL (Tramèr et al. 2018): random step alpha, then eps - alpha towards the "
                          "least-likely class")
    # ---------------------------------------------------------------- iterative (one compiled graph per attack)
    yield _attack("bim", "iterative:BIM", "BIMConfig", norms=("linf", "l2", "l1"), targeted=True,
                  aliases=("basic_iterative_method", "i_fgsm"),
                  summary="Basic iterative method (Kurakin et al. 2017): projected gradient steps from x, "
                          "whole loop in one compiled graph")
    yield _attack("pgd", "iterative:PGD", "PGDConfig", norms=("linf", "l2", "l1"), targeted=True, fuzzing=True,
                  aliases=("projected_gradient_descent",),
                  summary="Projected gradient descent (Madry et al. 2018): random start, L∞/L2/sparse-L1 steps, "
                          "exact ball projections, restarts")
    yield _attack("mim", "iterative:MIM", "MIMConfig", norms=("linf", "l2"), targeted=True,
                  aliases=("momentum_iterative_method", "mi_fgsm", "mifgsm"),
                  summary="Momentum iterative method (Dong et al. 2018): L1-normalised gradient momentum")
    yield _attack("difgsm", "iterative:DIFGSM", "DIFGSMConfig", norms=("linf", "l2"), targeted=True,
                  aliases=("di_fgsm", "di2_fgsm"),
                  summary="Diverse-inputs iterative FGSM (Xie et al. 2019): gradients at random resize-and-pad "
                          "transforms")
    yield _attack("mdifgsm", "iterative:MDIFGSM", "MDIFGSMConfig", norms=("linf", "l2"), targeted=True,
                  fuzzing=True, aliases=("m_di_fgsm", "m_di2_fgsm"),
                  summary="M-DI²-FGSM (Xie et al. 2019): diverse inputs plus momentum")
    yield _attack("vmifgsm", "iterative:VMIFGSM", "VMIFGSMConfig", norms=("linf",), targeted=True,
                  aliases=("vmi_fgsm",),
                  summary="Variance-tuning MI-FGSM (Wang & He 2021): momentum corrected by the gradient "
                          "variance over a neighbourhood")


#: the family's records by name: the one declaration of each algorithm's facts (norms, targeting, needed
#: capabilities); implementation classes name theirs in ``record`` and configs read their norms from it
RECORDS = {s.name: s for s in _records()}


def attacks():
    yield from RECORDS.values()
