"""Seed schedulers: which corpus entry the fuzzer mutates next; their configs and records."""
