"""Sparse (hierarchical) parity data, drawn on device as a pure function of (key, step).

Inputs are uniform in {-1, +1}^n.  With ``num_labels = 2`` the label is 1 exactly when the
parity chi_S(x) = prod_{i in S} x_i of the k support coordinates S is -1 (the reference's
convention).  With ``num_labels = 2**depth`` the labels are the leaves of a binary tree whose
2**depth - 1 internal nodes each own a disjoint support set; a leaf's score is the signed sum of
the parities on its root path (+ for a left turn, - for a right turn) and the label is the
argmax, ties going to the lower label, exactly as the reference's ``boolean_data``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from pdistill.data import streams


@dataclasses.dataclass(frozen=True)
class ParityTask:
  """Static description of a parity task; hashable so it can be closed over by jit."""

  n: int
  supports: tuple[tuple[int, ...], ...]  # one support set per internal tree node
  num_labels: int

  @property
  def k(self) -> int:
    return len(self.supports[0])

  def leaf_signs(self) -> np.ndarray:
    """[num_labels, num_nodes] matrix of +1/-1/0: how each node's parity enters each leaf score."""
    signs = np.zeros((self.num_labels, len(self.supports)), np.float32)
    for leaf in range(self.num_labels):
      node = leaf + self.num_labels
      while node > 1:
        signs[leaf, node // 2 - 1] = 1 - 2 * (node % 2)
        node //= 2
    return signs


def make_task(n: int, k: int, num_labels: int = 2, support: str = 'first',
              support_seed: int = 0) -> ParityTask:
  """Builds the support sets: the first (num_labels-1)*k coordinates in order, or a seeded draw."""
  num_nodes = num_labels - 1
  if support == 'first':
    coords = np.arange(num_nodes * k)
  elif support == 'random':
    coords = np.random.default_rng(support_seed).choice(n, size=num_nodes * k, replace=False)
  else:
    raise ValueError(f"support must be 'first' or 'random', got {support!r}")
  supports = tuple(tuple(int(c) for c in coords[i * k:(i + 1) * k]) for i in range(num_nodes))
  return ParityTask(n=n, supports=supports, num_labels=num_labels)


def to_tokens(x):
  """Inputs in {-1, +1} as transformer tokens, the reference's conversion: +1 -> 0, -1 -> 1."""
  return ((1 - x) // 2).astype(jnp.int32)


def node_parities(task: ParityTask, x: jax.Array) -> jax.Array:
  """[..., num_nodes] parities chi_S(x) of every node's support."""
  return jnp.stack([jnp.prod(x[..., list(s)], axis=-1) for s in task.supports], axis=-1)


def labels(task: ParityTask, x: jax.Array) -> jax.Array:
  scores = node_parities(task, x) @ jnp.asarray(task.leaf_signs()).T
  return jnp.argmax(scores, axis=-1).astype(jnp.int32)


def sample(task: ParityTask, key: jax.Array, batch_size: int) -> dict[str, jax.Array]:
  x = jax.random.rademacher(key, (batch_size, task.n), dtype=jnp.float32)
  return {'inputs': x, 'labels': labels(task, x)}


def train_batch(task: ParityTask, data_key: jax.Array, step, batch_size: int):
  """The training batch of a given step: the same for every run, chunking and device count."""
  return sample(task, jax.random.fold_in(data_key, step), batch_size)


def eval_set(task: ParityTask, eval_seed: int, size: int) -> dict[str, jax.Array]:
  """Held-out examples from a key no training stream uses (training keys come from config.seed)."""
  return sample(task, streams.eval_key(eval_seed), size)
