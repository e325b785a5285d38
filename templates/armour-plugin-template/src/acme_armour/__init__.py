"""acme-armour: an example third-party armour plugin."""
