"""pdistill: progressive distillation and curriculum extraction in JAX/Flax."""

__version__ = '0.1.0'
