"""Membership-inference attacks: threshold attacks, MindArmour's attack classifiers, LiRA and RMIA."""
