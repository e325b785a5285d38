"""Conformance kit for the minimum-norm attacks and the AutoAttack family (small budgets: CI time)."""

from __future__ import annotations

from armour_core.testing import AttackContract


class TestDeepFool(AttackContract):
    name = "deepfool"
    config = {"steps": 10}
    generous = {"steps": 20}
    min_success = 0.9



class TestCW(AttackContract):
    name = "cw"
    config = {"binary_search_steps": 2, "steps": 10, "initial_const": 1.0, "chunk": 5}
    generous = {"binary_search_steps": 3, "steps": 30, "initial_const": 1.0, "learning_rate": 0.1, "chunk": 5}


class TestFAB(AttackContract):
    name = "fab"
    config = {"steps": 5}
    generous = {"steps": 10}



class TestJSMA(AttackContract):
    name = "jsma"
    config = {"gamma": 0.3}
    generous = {"gamma": 0.5}


class TestLBFGS(AttackContract):
    name = "lbfgs"
    config = {"search_steps": 2, "max_iterations": 20}
    generous = {"search_steps": 4, "max_iterations": 50}


class TestAPGD(AttackContract):
    name = "apgd"
    config = {"steps": 10, "eps": 0.1}
    generous = {"steps": 10, "eps": 0.3}




class TestSquare(AttackContract):
    name = "square"
    config = {"max_queries": 60, "eps": 0.1}
    generous = {"max_queries": 300, "eps": 0.3}



class TestAutoAttack(AttackContract):
    name = "autoattack"
    config = {"steps": 5, "queries": 30, "eps": 0.1, "target_classes": 2}
    generous = {"steps": 5, "queries": 30, "eps": 0.3, "target_classes": 2}


class TestAPGDT(AttackContract):
    name = "apgd_t"
    config = {"steps": 3, "eps": 0.1, "target_classes": 2}


class TestFABT(AttackContract):
    name = "fab_t"
    config = {"steps": 3, "target_classes": 2, "norm": "l2"}
