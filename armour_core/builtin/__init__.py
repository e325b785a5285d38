"""armour-core's own plugins: the embedded default datasets and models (entry point ``builtin``)."""
