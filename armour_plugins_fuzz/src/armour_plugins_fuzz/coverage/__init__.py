"""Coverage criteria: the DeepGauge family (``deepgauge``) and surprise adequacy (``surprise``), their configs
and records."""
