"""Differentially private training: the DPModel engine, per-example and ghost clipping (rules per layer
type), the DP validator, the privacy ledger, sampling, noise calibration, and the noise / clip / accountant
plugins. Import-light: nothing here is imported until a submodule is."""
