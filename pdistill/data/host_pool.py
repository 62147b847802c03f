"""Host-made batches (PCFG, real text, custom tasks) from several processes.

The loop makes the next chunk's batches on the host while the device runs the current chunk;
one process may not keep up with an accelerator (``benchmarks/accelerator_suite.py`` says
whether it does).  A batch is a pure function of (seed, step), so the steps of a chunk can be
split among worker processes and the parts joined along the step axis: the result is the
same arrays as one process makes (tested).  ``loop.host_data_processes`` sets how many; 0 or 1
keeps the work in the loop's process.

Workers are started with ``spawn`` (JAX's threads make ``fork`` unsafe) and build their own
copy of the task from the data config once.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Sequence

import jax
import ml_collections
import numpy as np

from pdistill.data import tasks

_TASK: tasks.Task | None = None  # a worker's own task


def _start_worker(data: dict, batch_size: int) -> None:
  global _TASK
  _TASK = tasks.build(ml_collections.ConfigDict(data), batch_size)


def _make(seeds: list[int], start: int, length: int) -> dict:
  return _TASK.chunk_input(seeds, start, length)


class HostPool:
  """``chunk_input(seeds, start, length)`` as ``Task.chunk_input``, made by ``processes``
  worker processes (each a contiguous share of the steps)."""

  def __init__(self, data: ml_collections.ConfigDict, batch_size: int, processes: int):
    self.processes = processes
    self._pool = concurrent.futures.ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context('spawn'),
        initializer=_start_worker, initargs=(data.to_dict(), batch_size))

  def chunk_input(self, seeds: Sequence[int], start: int, length: int) -> dict:
    bounds = np.linspace(start, start + length, min(self.processes, length) + 1).astype(int)
    seeds = [int(s) for s in seeds]
    parts = [self._pool.submit(_make, seeds, int(a), int(b - a))
             for a, b in zip(bounds[:-1], bounds[1:])]
    parts = [p.result() for p in parts]
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *parts)

  def close(self) -> None:
    self._pool.shutdown(wait=True, cancel_futures=True)


def make_chunk_input(task: tasks.Task, data: ml_collections.ConfigDict, batch_size: int,
                     processes: int):
  """(``chunk_input``, ``close``) for ``task``: a ``HostPool``'s when its batches are made on
  the host and ``processes`` > 1, else the task's own (and nothing to close)."""
  if processes > 1 and task.on_host:
    pool = HostPool(data, batch_size, processes)
    return pool.chunk_input, pool.close
  return task.chunk_input, lambda: None
