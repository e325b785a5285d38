"""White-box gradient attacks: single-step (FGSM family) and iterative (BIM, PGD,
MIM, DI/VMI-FGSM) on one compiled loop.

Implementation modules import MindSpore or SciPy on use; ``records`` and ``configs`` stay light."""
