"""The ``armour attack|evaluate|defend`` subcommands and the audit's robustness section."""
