"""Subcommands of the ``gistcad`` command line, one module each with a ``register``."""
