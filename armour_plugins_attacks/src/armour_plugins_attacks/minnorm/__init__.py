"""Minimum-norm and optimisation attacks: DeepFool, C&W, FAB, JSMA, L-BFGS.

Implementation modules import MindSpore or SciPy on use; ``records`` and ``configs`` stay light."""
