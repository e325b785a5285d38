"""MindSpore training and testing wrappers (DPModel, SuppressModel, Fuzzer).

Import-light: each wrapper lives in its own module and is imported on first use
(``from armour_core import DPModel`` resolves lazily).
"""
