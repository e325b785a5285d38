"""Exceptions raised by armour. Every message names the argument or plugin at fault."""

from __future__ import annotations


class ArmourError(Exception):
    """Base class of every armour error."""


class UnknownPluginError(ArmourError, KeyError):
    """No plugin of that kind and name.

    A ``KeyError`` so ``except KeyError`` keeps working; ``str()`` is the readable message rather than
    KeyError's quoted repr.
    """

    def __init__(self, message: str, *, kind: str | None = None, name: str | None = None,
                 suggestions: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.suggestions = suggestions

    def __str__(self) -> str:
        return self.message


class PluginConflictError(ArmourError):
    """Two distributions registered the same (kind, name or alias)."""


class PluginLoadError(ArmourError):
    """A plugin's hooks module or implementation could not be imported or registered."""


class PluginUnavailableError(PluginLoadError):
    """A plugin is installed but one of its dependencies is missing."""


class CapabilityError(ArmourError):
    """The model lacks a capability the algorithm declares it needs (e.g. gradients)."""


class ConfigError(ArmourError, TypeError):
    """A hyperparameter is unknown or has an invalid value."""


class InvalidInputError(ArmourError, ValueError):
    """An input array or argument is malformed (shape, dtype, NaN, bounds, label range...)."""


class BudgetExceededError(ArmourError):
    """A privacy or query budget would be exceeded."""
