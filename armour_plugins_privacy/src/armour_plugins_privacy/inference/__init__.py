"""Membership-inference attacks: threshold attacks, MindArmour's attack classifiers and LiRA."""
