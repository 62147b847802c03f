"""The Orbax checkpoint managers of pdistill, and restoring onto one local device.

Multi-host saves are synchronous: with two managers saving asynchronously at once, Orbax
0.12's cross-process metadata check raced and failed (seen with 2 processes on one machine).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import weakref

import jax
import orbax.checkpoint as ocp

from pdistill.parallel import mesh


class _QuietReadOnly(logging.Filter):
  """Drops the two warnings Orbax gives for every read-only manager pdistill opens to read."""

  def filter(self, record):
    text = record.getMessage()
    return not ('Given directory is read only' in text or
                'setting save_interval_steps=0' in text)


logging.getLogger('absl').addFilter(_QuietReadOnly())

# Every manager this process opened for writing: their asynchronous saves hold space the disk
# does not show as used yet (see ensure_room).
_writers = weakref.WeakSet()


def manager(workdir: str, subdir: str, *, max_to_keep: int | None = None,
            read_only: bool = False, **items) -> ocp.CheckpointManager:
  """A manager of ``workdir/subdir``; ``items`` are passed on (``item_names`` or
  ``item_handlers``)."""
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=not read_only,
                                         read_only=read_only,
                                         cleanup_tmp_directories=not read_only,
                                         enable_async_checkpointing=jax.process_count() == 1)
  made = ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), subdir), options=options,
                               **items)
  if not read_only:
    _writers.add(made)
  return made


def on_one_device(abstract_tree):
  """``abstract_tree`` (shapes and dtypes) placed on one local device: restores land there,
  whatever mesh or number of processes saved them."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device),
                      abstract_tree)


def ensure_room(directory: str, tree) -> None:
  """Raises OSError(ENOSPC) naming ``directory`` unless its disk has room to save ``tree``.

  Checked before every save: a save that runs out of space fails inside Orbax's writer threads,
  which print pages of tracebacks before the error reaches the run; this stops it cleanly
  first.  Saves still being written (asynchronously, by any of this process's managers: the
  trajectory's and the checkpoints' often save at the same step) are waited for first, so the
  free space counted is what they leave.  Another process filling the disk meanwhile still
  gets that error (``main`` reports it in one line).
  """
  for writer in list(_writers):
    if writer.is_saving_in_progress():
      writer.wait_until_finished()
  need = mesh.tree_bytes(tree)
  need += need // 10 + (64 << 10)  # Orbax's metadata, OCDBT's manifest
  free = shutil.disk_usage(directory).free
  if free < need:
    raise OSError(errno.ENOSPC, f'{os.strerror(errno.ENOSPC)} ({need / 2**20:.1f} MiB needed '
                  f'for the next save, {free / 2**20:.1f} MiB free)', directory)
