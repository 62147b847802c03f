"""A run's parameter trajectory: Orbax checkpoints of the params every N steps, with metrics.

Layout: ``WORKDIR/trajectory/<step>/{params,metrics,digest}``, plus ``model_state`` for a
model with collections beside its params (BatchNorm statistics).  Saves are atomic (Orbax writes to a
temporary directory and renames), so an interrupted run never leaves a half-written checkpoint
that a later reader would take for a real one.

List a trajectory from the shell::

  python -m pdistill.storage.trajectory WORKDIR
"""

from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

from pdistill.parallel import mesh
from pdistill.storage import digest, orbax_io
from pdistill.storage.checkpoints import restore_verified

SUBDIR = 'trajectory'
MODEL_STATE = 'model_state'


def _manager(workdir: str, read_only: bool = False):
  return orbax_io.manager(workdir, SUBDIR, read_only=read_only,
                          item_names=('params', 'metrics', digest.ITEM, MODEL_STATE))


def is_point(step: int, every: int, num_steps: int) -> bool:
  """Whether a run saving every ``every`` steps (0 = never) saves a point at ``step``: step 0,
  each multiple of ``every``, and its last step."""
  return bool(every) and (step % every == 0 or step == num_steps)


def expected_steps(every: int, num_steps: int, until: int | None = None) -> list[int]:
  """The points such a run has saved once it reached ``until`` (default: its end)."""
  until = num_steps if until is None else until
  if not every:
    return []
  return sorted(set(range(0, until + 1, every)) | ({num_steps} if until >= num_steps else set()))


class TrajectoryWriter:

  def __init__(self, workdir: str):
    self._manager = _manager(workdir)

  def save(self, step: int, params, metrics: dict, model_state=None) -> None:
    # A rerun after an interruption recomputes the same params for a step that is already on
    # disk; keep the stored one.
    if step in self._manager.all_steps():
      return
    saved = {'params': params, MODEL_STATE: model_state} if model_state else params
    orbax_io.ensure_room(str(self._manager.directory), saved)
    items = {MODEL_STATE: ocp.args.StandardSave(model_state)} if model_state else {}
    self._manager.save(step, args=ocp.args.Composite(
        params=ocp.args.StandardSave(params),
        metrics=ocp.args.JsonSave({k: float(v) for k, v in metrics.items()}),
        **{digest.ITEM: ocp.args.JsonSave({'sha256': digest.of(saved)})}, **items))

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def exists(workdir: str) -> bool:
  return os.path.isdir(os.path.join(workdir, SUBDIR))


def saved_steps(workdir: str) -> list[int]:
  if not exists(workdir):
    return []
  with _manager(workdir, read_only=True) as manager:
    return sorted(manager.all_steps())


def read_metrics(workdir: str) -> list[dict]:
  """[{'step': s, **metrics}] for every saved checkpoint, in step order."""
  rows = []
  with _manager(workdir, read_only=True) as manager:
    for step in sorted(manager.all_steps()):
      restored = manager.restore(step, args=ocp.args.Composite(metrics=ocp.args.JsonRestore()))
      rows.append({'step': step, **restored.metrics})
  return rows


def _restore_variables(manager, step: int, abstract_variables):
  """{'params': ..., **model state} at ``step``, verified against the saved digest (raises
  digest.CorruptCheckpoint naming the step).  The model state saved there is read (and
  verified) even when ``abstract_variables`` asks for the params only."""
  abstract = dict(abstract_variables)
  params = abstract.pop('params')
  where = str(manager.directory)
  if not os.path.isdir(os.path.join(where, str(step), MODEL_STATE)):
    return {'params': restore_verified(manager, step, 'params',
                                       ocp.args.StandardRestore(params), where)}
  both = restore_verified(
      manager, step, ('params', MODEL_STATE),
      (ocp.args.StandardRestore(params), ocp.args.StandardRestore(abstract or None)), where)
  return {'params': both['params'], **both[MODEL_STATE]}


def load_params(workdir: str, step: int, abstract_params=None):
  with _manager(workdir, read_only=True) as manager:
    return _restore_variables(manager, step, {'params': abstract_params})['params']


def load_variables(workdir: str, step: int, abstract_variables):
  """The params and model state (the collections of ``abstract_variables``) at ``step``."""
  with _manager(workdir, read_only=True) as manager:
    return _restore_variables(manager, step, orbax_io.on_one_device(abstract_variables))


def saved_digests(workdir: str, steps) -> list[str | None]:
  """The SHA-256 saved with each of ``steps`` (None for a point saved before digests were),
  read from the digest item's JSON without loading any array."""
  out = []
  for step in steps:
    path = os.path.join(workdir, SUBDIR, str(step), digest.ITEM, 'metadata')
    try:
      with open(path) as f:
        out.append(json.load(f)['sha256'])
    except (OSError, ValueError, KeyError):
      out.append(None)
  return out


def shape_error(workdir: str, step: int, abstract_params) -> str | None:
  """Where the params saved at ``step`` differ in names or shapes from ``abstract_params``
  (read from the checkpoint's metadata, before any array: a mismatched restore would fail
  deep inside TensorStore), or None."""
  handlers = {'params': ocp.StandardCheckpointHandler(), MODEL_STATE:
              ocp.StandardCheckpointHandler(), 'metrics': ocp.JsonCheckpointHandler(),
              digest.ITEM: ocp.JsonCheckpointHandler()}
  with orbax_io.manager(workdir, SUBDIR, read_only=True, item_handlers=handlers) as manager:
    saved = manager.item_metadata(step)['params'].tree

  def shapes(tree):
    return {jax.tree_util.keystr(k): tuple(v.shape)
            for k, v in jax.tree_util.tree_flatten_with_path(tree)[0]}

  have, want = shapes(saved), shapes(abstract_params)
  for key in sorted(set(have) | set(want)):
    if have.get(key) != want.get(key):
      return (f'params{key} is saved with shape {have.get(key)} at step {step} but its '
              f'config.json builds {want.get(key)}')
  return None


def load_stacked(workdir: str, steps, abstract_variables, sharding=None):
  """The variables ({'params': ..., **model state}) at ``steps``, stacked along a new leading
  axis (schedule position)."""
  host = orbax_io.on_one_device(abstract_variables)
  with _manager(workdir, read_only=True) as manager:
    loaded = [jax.tree.map(np.asarray, _restore_variables(manager, s, host)) for s in steps]
  stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *loaded)
  return mesh.put(stacked, sharding) if sharding is not None else stacked


def format_table(rows: list[dict]) -> str:
  keys = sorted({k for r in rows for k in r} - {'step'})
  lines = ['\t'.join(['step'] + keys)]
  for r in rows:
    lines.append('\t'.join([str(r['step'])] + [f'{r[k]:.6g}' if k in r else '' for k in keys]))
  return '\n'.join(lines)


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if len(argv) != 1:
    print('usage: python -m pdistill.storage.trajectory WORKDIR', file=sys.stderr)
    return 2
  if not exists(argv[0]):
    print(f'error: no trajectory in {argv[0]} (expected {os.path.join(argv[0], SUBDIR)})',
          file=sys.stderr)
    return 2
  print(format_table(read_metrics(argv[0])))
  return 0


if __name__ == '__main__':
  sys.exit(main())
