"""The AutoAttack family: APGD, APGD-T and the AutoAttack ensemble.

Implementation modules import MindSpore or SciPy on use; ``records`` and ``configs`` stay light."""
