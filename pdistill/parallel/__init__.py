"""Devices and processes: ``mesh`` (the 1-D data mesh, host <-> mesh transfers, which process
writes) and ``multihost`` (joining a ``jax.distributed`` job, and splitting a CPU into devices)."""
