"""Suppress-privacy training: the SuppressModel engine and the suppressor plugins (which weights to zero)."""
