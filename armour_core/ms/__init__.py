"""MindSpore adapters. Importing this package imports MindSpore and tunes its CPU runtime (see
:mod:`armour_core.ms.runtime`)."""

from .runtime import configure

configure()

from .model import MSModel  # noqa: E402

__all__ = ["MSModel", "configure"]
