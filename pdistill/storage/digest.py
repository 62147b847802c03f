"""A digest of a pytree of arrays, stored beside each checkpoint so a load can verify it.

Orbax itself checks no content: 64 random bytes in a checkpoint's data file load as NaN (or as
wrong numbers) without a word.  A run's checkpoints and trajectory points each store the
SHA-256 of what was saved (each leaf's shape, dtype and bytes) as an extra item, and every load
recomputes it.
"""

from __future__ import annotations

import hashlib

import jax
import numpy as np

from pdistill.parallel import mesh

ITEM = 'digest'


class CorruptCheckpoint(ValueError):
  """A saved step whose files cannot be read, or whose content is not what was written."""


def of(tree) -> str:
  """SHA-256 over the sorted per-leaf digests: the same whatever containers hold the leaves
  (a restore may give nested dicts where a TrainState was saved)."""
  leaves = []
  for leaf in jax.tree.leaves(mesh.fetch(tree)):
    leaf = np.ascontiguousarray(leaf)
    one = hashlib.sha256(f'{leaf.shape}{leaf.dtype}'.encode())
    one.update(leaf.tobytes())
    leaves.append(one.hexdigest())
  return hashlib.sha256(''.join(sorted(leaves)).encode()).hexdigest()


def verify(tree, expected: str | None, what: str) -> None:
  """Raises CorruptCheckpoint unless ``tree`` hashes to ``expected`` (None: saved unverified)."""
  if expected is not None and of(tree) != expected:
    raise CorruptCheckpoint(f'{what}: its content does not match the digest saved with it '
                            '(the files were changed or damaged after they were written)')
