"""Conformance kit for the gradient attacks: ε-ball and bounds, shape/dtype, seeds, Tensor in/out, bad inputs,
success at a generous ε on the undefended digits MLP and targeted hits (budgets kept small for CI time)."""

from __future__ import annotations

from armour_core.testing import AttackContract

LINF, L2, L1 = {"eps": 0.3}, {"eps": 3.0, "norm": "l2"}, {"eps": 10.0, "norm": "l1"}


# ------------------------------------------------------------------------------------------ single step
class TestFGSM(AttackContract):
    name = "fgsm"
    config = {"eps": 0.1}
    generous = LINF
    min_targeted_success = 0.3  # one step towards a fixed class: the paper's own weak spot


class TestFGM(AttackContract):
    name = "fgm"
    config = {"eps": 1.0}
    generous = L2
    min_targeted_success = 0.3


class TestFGML1(AttackContract):
    name = "fgm"
    config = {"eps": 3.0, "norm": "l1"}
    generous = L1
    min_targeted_success = 0.3


class TestRFGSM(AttackContract):
    name = "rfgsm"
    config = {"eps": 0.1}
    generous = LINF
    min_targeted_success = 0.3


class TestRFGM(AttackContract):
    name = "rfgm"
    config = {"eps": 1.0}
    generous = L2
    min_targeted_success = 0.3


class TestLLC(AttackContract):
    name = "llc"
    config = {"eps": 0.1}
    generous = LINF


class TestRLLC(AttackContract):
    name = "rllc"
    config = {"eps": 0.1, "norm": "l2"}
    generous = {"eps": 4.0, "norm": "l2"}


# ------------------------------------------------------------------------------------------ iterative
class TestBIM(AttackContract):
    name = "bim"
    config = {"eps": 0.1}
    generous = LINF


class TestPGD(AttackContract):
    name = "pgd"
    config = {"eps": 0.1, "steps": 10}
    generous = {**LINF, "steps": 20}


class TestPGDL2(AttackContract):
    name = "pgd"
    config = {"eps": 1.0, "norm": "l2", "steps": 10}
    generous = {**L2, "steps": 20}


class TestPGDL1(AttackContract):
    name = "pgd"
    config = {"eps": 3.0, "norm": "l1", "steps": 10}
    generous = {**L1, "steps": 20}


class TestPGDOnLeNet(AttackContract):
    name = "pgd"
    model_fixture = "armour_lenet"
    config = {"eps": 0.1, "steps": 5}
    generous = {**LINF, "steps": 10}


class TestPGDOnNumpyModel(AttackContract):
    """The eager path: any Classifier with gradients (no MindSpore graph)."""

    name = "pgd"
    model_fixture = "armour_softmax"
    config = {"eps": 0.1, "steps": 5}
    generous = {**LINF, "steps": 10}


class TestMIM(AttackContract):
    name = "mim"
    config = {"eps": 0.1}
    generous = LINF


class TestDIFGSM(AttackContract):
    name = "difgsm"
    config = {"eps": 0.1}
    generous = LINF


class TestMDIFGSM(AttackContract):
    name = "mdifgsm"
    config = {"eps": 0.1, "norm": "l2"}
    generous = L2


class TestMDIFGSMOnNumpyModel(AttackContract):
    name = "mdifgsm"
    model_fixture = "armour_softmax"
    config = {"eps": 0.1, "steps": 5}
    generous = {**LINF, "steps": 10}


class TestVMIFGSM(AttackContract):
    name = "vmifgsm"
    config = {"eps": 0.1, "neighbours": 5, "steps": 5}
    generous = {**LINF, "neighbours": 5}
