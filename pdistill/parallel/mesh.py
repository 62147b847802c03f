"""The 1-D ``data`` mesh that every train step is jit-compiled over, and host <-> mesh transfers.

In a multi-process run (several hosts, ``jax.distributed``) the mesh spans every process's
devices; host data, which every process computes identically (a pure function of seed and
step), is placed with ``put`` and read back with ``fetch``.
"""

from __future__ import annotations

import logging
import math

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def make_mesh(batch_size: int, devices=None) -> Mesh:
  """A mesh over as many devices as evenly split the batch (all of them when the batch allows).

  Batch-1 SGD, the paper's setting, therefore runs on one device even when more exist.  A
  sweep passes its member count as ``batch_size``: members are spread over devices.
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


def put(tree, sharding):
  """Host arrays -> global arrays with ``sharding``; every process passes the same values."""
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)

  def one(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

  return jax.tree.map(one, tree)


def fetch(tree):
  """Global arrays -> numpy on every process (gathered where other processes hold parts)."""

  def one(x):
    if isinstance(x, jax.Array) and not (x.is_fully_addressable or x.is_fully_replicated):
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)

  return jax.tree.map(one, tree)


def is_writer() -> bool:
  """Whether this process writes logs, metrics and plots (process 0 of a multi-host run)."""
  return jax.process_index() == 0


# Room left beside what a run places up front (its state, a stacked teacher) for the rest:
# activations, the optimizer's temporaries, the runtime itself.
MEMORY_MARGIN = 0.8


def tree_bytes(tree) -> int:
  """Bytes the arrays (or abstract arrays: shapes and dtypes) of ``tree`` hold."""
  return sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))


def room_error(need: int, what: str, available: tuple[int | None, str] | None = None
               ) -> str | None:
  """Why ``need`` bytes of ``what`` would not fit in a device's free memory, or None.
  ``available``: ``free_bytes()`` when the caller has read it already."""
  free, where = available or free_bytes()
  if free is None or need <= MEMORY_MARGIN * free:
    return None
  return (f'{what} take {need / 2**30:.2f} GiB, more than {MEMORY_MARGIN:.0%} of the '
          f'{free / 2**30:.2f} GiB free in {where}')


def free_bytes(device=None) -> tuple[int | None, str]:
  """(bytes free on ``device``, a name for it): an accelerator's own memory, or for a CPU the
  host's available memory (None where neither is known)."""
  device = device or jax.local_devices()[0]
  stats = device.memory_stats() if hasattr(device, 'memory_stats') else None
  if stats and 'bytes_limit' in stats:
    return int(stats['bytes_limit'] - stats.get('bytes_in_use', 0)), f'{device.device_kind}'
  try:
    with open('/proc/meminfo') as f:
      fields = dict(line.split(':', 1) for line in f)
    return int(fields['MemAvailable'].split()[0]) * 1024, 'host memory'
  except (OSError, KeyError, ValueError):
    return None, 'host memory'
