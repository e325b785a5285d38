"""Adversarial-training defenses (kind ``defense``): each trains a MindSpore network in place.

Importing this package imports MindSpore; the registry imports the modules named by the records.
"""
