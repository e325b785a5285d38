"""Plugin records, one module per area; light to import."""
