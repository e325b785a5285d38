"""Certified robustness: the ``certifier`` kind (declared by this distribution through ``armour_kinds``),
randomized smoothing (Cohen, Rosenfeld & Kolter 2019), noise-augmented training, ``armour certify`` and the
audit's certified-accuracy section."""
