"""armour-plugins-attacks: evasion attacks, adversarial-training defenses and detectors for armour."""

__version__ = "0.1.0"
