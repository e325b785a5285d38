"""Black-box (query) attacks on one per-sample query oracle: HSJA, NES, GenAttack, PSO, Pointwise,
salt-and-pepper, Square.

Implementation modules import MindSpore or SciPy on use; ``records`` and ``configs`` stay light."""
