"""The run engine: trains one or more *members* as one compiled program.

A plain run is one member; a sweep (``pdistill.sweep``) is a grid of (learning rate, seed)
members whose train states are stacked on a leading axis, spread over the devices, and stepped
by the vmapped chunk, each still with its own metrics (and trajectory) directory.

* ``setup``: everything decided before the workdir is touched (task, mesh, teacher, model,
  curriculum, optimizer, shardings);
* ``state``: the initial train state of every member, or the one restored from a checkpoint;
* ``chunks``: the compiled chunk of each curriculum stage and the input it is fed;
* ``recorder``: evals, metrics, trajectory points, checkpoints and the progress line;
* ``loop``: the thin loop that joins them (``run_members``, ``train_run``).
"""

from pdistill.engine.loop import (Interrupted, finished_records, next_stop, run_members,
                                  train_run)
from pdistill.engine.recorder import Diverged
from pdistill.engine.setup import Member, Setup

__all__ = ['Diverged', 'Interrupted', 'Member', 'Setup', 'finished_records', 'next_stop',
           'run_members', 'train_run']
