"""armour-plugins-fuzz: the coverage-guided Fuzzer (``fuzzer/``) and its plugins: mutators (``mutators/``),
neuron-coverage criteria (``coverage/``) and seed schedulers (``schedulers/``)."""

__version__ = "0.1.0"
