"""The resumable state of a run (step, params, optimizer state) in ``WORKDIR/checkpoints``.

Kept apart from the trajectory: it carries the optimizer state, and only the latest two are
kept.  Everything else a run needs to continue (data, step rngs) is a function of the step.
"""

from __future__ import annotations

import logging
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from pdistill.storage import digest, orbax_io
from pdistill.storage.run_lock import WorkdirError

SUBDIR = 'checkpoints'
log = logging.getLogger('pdistill')


def restore_verified(manager, step: int, item, restore_args, where: str):
  """``manager``'s ``item`` at ``step``, checked against the digest saved with it.

  ``item`` may be a tuple of items (with a tuple of ``restore_args``), digested together as
  the dict {item: value}: their values come back in that dict.
  """
  what = f'{where} step {step}'
  has_digest = os.path.isdir(os.path.join(str(manager.directory), str(step), digest.ITEM))
  several = isinstance(item, tuple)
  args = dict(zip(item, restore_args)) if several else {item: restore_args}
  if has_digest:
    args[digest.ITEM] = ocp.args.JsonRestore()
  try:
    restored = manager.restore(step, args=ocp.args.Composite(**args))
  except Exception as e:  # noqa: BLE001  Orbax/TensorStore raise many types on damaged files
    raise digest.CorruptCheckpoint(f'{what}: cannot be read ({type(e).__name__}: '
                                   f'{str(e).splitlines()[0][:200] if str(e) else ""})') from e
  value = {i: restored[i] for i in item} if several else restored[item]
  digest.verify(value, restored[digest.ITEM]['sha256'] if has_digest else None, what)
  return value


class RunCheckpoints:

  def __init__(self, workdir: str):
    self._where = os.path.join(workdir, SUBDIR)
    self._manager = orbax_io.manager(workdir, SUBDIR, max_to_keep=2,
                                     item_names=('state', digest.ITEM))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state) -> None:
    if step in self._manager.all_steps():
      return
    orbax_io.ensure_room(self._where, state)
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        **{digest.ITEM: ocp.args.JsonSave({'sha256': digest.of(state)})}))

  def restore(self, step: int, like_state):
    """Restores into the structure, shapes and shardings of ``like_state``; verified.

    A state saved before the train state gained a field (``model_state``, ``loss_state``)
    has none on disk: it is restored without it, as the empty field it was then, provided
    ``like_state`` holds that field empty too.
    """
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), like_state)
    try:
      return restore_verified(self._manager, step, 'state',
                              ocp.args.StandardRestore(abstract), self._where)
    except digest.CorruptCheckpoint:
      saved_keys = self._saved_keys(step)  # read only when the usual restore fails
      absent = ([f for f in like_state.__dataclass_fields__ if f not in saved_keys]
                if saved_keys is not None else [])
      older = absent and all(not jax.tree.leaves(getattr(like_state, f)) for f in absent)
      if not older:
        raise
    fields = {k: getattr(abstract, k) for k in saved_keys}
    restored = restore_verified(self._manager, step, 'state', ocp.args.StandardRestore(fields),
                                self._where)
    return like_state.replace(**restored)

  def _saved_keys(self, step: int):
    """The top-level fields of the state saved at ``step`` (None if unreadable)."""
    try:
      with _reader(os.path.dirname(self._where)) as manager:
        tree = manager.item_metadata(step).state.tree
    except Exception:  # noqa: BLE001  a damaged checkpoint: restore reports it
      return None
    return list(tree) if isinstance(tree, dict) else None

  def restore_newest_intact(self, like_state):
    """(state, step) of the newest checkpoint that verifies, or (None, 0) if there is none.

    Newer checkpoints that cannot be read or verified are named in a warning and moved aside
    (to ``<step>.unreadable``, never deleted: another version of pdistill may read them), so
    that this run saves those steps afresh.  If checkpoints exist but none can be read, the
    run does not start over (which would replace its metrics history): WorkdirError, and
    nothing is moved.
    """
    failed = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self.restore(step, like_state)
      except digest.CorruptCheckpoint as e:
        log.warning('%s; trying the previous checkpoint', e)
        failed.append((step, e))
        continue
      for bad, _ in failed:
        aside = os.path.join(self._where, f'{bad}.unreadable')
        log.warning('moved the unreadable checkpoint of step %d to %s', bad, aside)
        os.replace(os.path.join(self._where, str(bad)), aside)
      if failed:
        self._manager.reload()
      return state, step
    if failed:
      raise WorkdirError(
          f'none of the checkpoints in {self._where} can be read ({failed[0][1]}); the run '
          'would start over and replace its history, so it stops here with nothing changed. '
          'Resume it with the pdistill version that wrote them, or use a new --workdir')
    return None, 0

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def saved_steps(workdir: str) -> list[int]:
  """The steps of a run's checkpoints, oldest first; opens nothing for writing."""
  if not os.path.isdir(os.path.join(workdir, SUBDIR)):
    return []
  with orbax_io.manager(workdir, SUBDIR, read_only=True,
                        item_names=('state', digest.ITEM)) as manager:
    return sorted(manager.all_steps())


def latest_step(workdir: str) -> int | None:
  """The step of a run's latest checkpoint (None if it has none); opens nothing for writing."""
  steps = saved_steps(workdir)
  return steps[-1] if steps else None


def _reader(workdir: str):
  """A read-only manager of ``workdir``'s checkpoints that knows their items' metadata."""
  return orbax_io.manager(workdir, SUBDIR, read_only=True,
                          item_handlers={'state': ocp.StandardCheckpointHandler(),
                                         digest.ITEM: ocp.JsonCheckpointHandler()})


def load_state(workdir: str, step: int | None = None):
  """A run's checkpointed state (``step``, or the latest) as a dict of numpy arrays (no model
  needed: step, params, opt_state and, if the model has any, model_state), and its step."""
  with _reader(workdir) as manager:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f'{workdir} has no {SUBDIR}/')
    target = orbax_io.on_one_device(manager.item_metadata(step).state.tree)
    state = restore_verified(manager, step, 'state', ocp.args.StandardRestore(target),
                             os.path.join(workdir, SUBDIR))
  return jax.tree.map(np.asarray, state), step


def load_latest_params(workdir: str):
  """The params of a run's latest checkpoint as numpy arrays (no model needed), and its step."""
  state, step = load_state(workdir)
  return state['params'], step
