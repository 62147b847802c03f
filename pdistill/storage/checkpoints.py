"""The resumable state of a run (step, params, optimizer state) in ``WORKDIR/checkpoints``.

Kept apart from the trajectory: it carries the optimizer state, and only the latest two are
kept.  Everything else a run needs to continue (data, step rngs) is a function of the step.
"""

from __future__ import annotations

import jax
import numpy as np
import orbax.checkpoint as ocp

from pdistill.storage import orbax_io

SUBDIR = 'checkpoints'


class RunCheckpoints:

  def __init__(self, workdir: str):
    self._manager = orbax_io.manager(workdir, SUBDIR, max_to_keep=2, item_names=('state',))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state) -> None:
    if step in self._manager.all_steps():
      return
    self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))

  def restore(self, step: int, like_state):
    """Restores into the structure, shapes and shardings of ``like_state``."""
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), like_state)
    return self._manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))).state

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def load_latest_params(workdir: str):
  """The params of a run's latest checkpoint as numpy arrays (no model needed), and its step."""
  with orbax_io.manager(workdir, SUBDIR, read_only=True,
                        item_handlers={'state': ocp.StandardCheckpointHandler()}) as manager:
    step = manager.latest_step()
    if step is None:
      raise FileNotFoundError(f'{workdir} has no {SUBDIR}/')
    target = orbax_io.on_one_device(manager.item_metadata(step).state.tree)
    state = manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))).state
  return jax.tree.map(np.asarray, state['params']), step
