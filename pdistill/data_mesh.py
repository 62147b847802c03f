"""The 1-D ``data`` mesh that every train step is jit-compiled over."""

from __future__ import annotations

import logging
import math

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def make_mesh(batch_size: int, devices=None) -> Mesh:
  """A mesh over as many devices as evenly split the batch (all of them when the batch allows).

  Batch-1 SGD, the paper's setting, therefore runs on one device even when more exist.
  """
  devices = list(jax.devices() if devices is None else devices)
  width = math.gcd(batch_size, len(devices))
  if width < len(devices):
    logging.getLogger('pdistill').info(
        'batch_size %d splits evenly over %d of %d devices; using %d', batch_size, width,
        len(devices), width)
  return Mesh(devices[:width], ('data',))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh, batch_axis: int = 0) -> NamedSharding:
  """Shards axis ``batch_axis`` over ``data``; other axes replicated."""
  return NamedSharding(mesh, P(*([None] * batch_axis), 'data'))
