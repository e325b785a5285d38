"""armour-plugins-fuzz: mutators, neuron-coverage criteria and seed schedulers for armour's Fuzzer."""

__version__ = "0.1.0"
