"""Abstract bases per plugin kind: numpy-level template methods that own the invariants.

Nothing here imports MindSpore; a MindSpore ``nn.Cell`` given as ``model=`` is wrapped on first use by
:class:`armour_core.ms.model.MSModel`.
"""

from .attack import Attack, AttackConfig, AttackResult
from .base import Algorithm, make_config
from .model import Classifier, as_classifier

__all__ = ["Algorithm", "make_config", "Attack", "AttackConfig", "AttackResult", "Classifier", "as_classifier"]
