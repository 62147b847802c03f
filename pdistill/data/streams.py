"""The seeding rules shared by every task and the run engine: one owner for each stream.

A run's seed gives three independent JAX keys (parameter init, the on-device data stream and
the per-step rngs), ``fold_in(key(seed), purpose)``.  Host-side data (PCFG sentences, text
windows) of step s comes from ``numpy.random.default_rng([seed, s])``.  Eval sets come from
``data.eval_seed`` salted with ``EVAL_SALT``, a stream no training run draws from.
"""

from __future__ import annotations

import jax
import numpy as np

INIT, DATA, STEPS = 0, 1, 2  # purposes of a run's keys
EVAL_SALT = 0x5EED_E7A1


def run_key(seed, purpose: int) -> jax.Array:
  """The key of ``purpose`` (INIT, DATA or STEPS) of the run with ``seed`` (traceable)."""
  return jax.random.fold_in(jax.random.key(seed), purpose)


def host_rng(seed: int, step: int) -> np.random.Generator:
  """The numpy generator of training step ``step`` of the run with ``seed``."""
  return np.random.default_rng([seed, step])


def eval_rng(eval_seed: int) -> np.random.Generator:
  return np.random.default_rng([eval_seed, EVAL_SALT])


def eval_key(eval_seed: int) -> jax.Array:
  return jax.random.fold_in(jax.random.key(eval_seed), EVAL_SALT)
