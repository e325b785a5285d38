"""Mutators: pixel-value (``pixel``), affine (``affine``) and the adversarial adapter, their configs, records
and the registry look-up of mutator names (``resolve``)."""
