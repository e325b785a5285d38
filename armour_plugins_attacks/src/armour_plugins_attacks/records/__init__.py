"""Plugin records, one module per area (whitebox, blackbox, defenses, detectors); light to import."""
