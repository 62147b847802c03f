"""A finished (or running) run read back from its workdir: its config, model and params.

One place rebuilds a run's model from its ``config.json``; teachers loaded for distillation
and frozen models loaded for probing both come through here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import ml_collections
import numpy as np

from pdistill import config as config_lib
from pdistill import models
from pdistill.data import tasks
from pdistill.models import calls
from pdistill.storage import checkpoints, run_config, trajectory


def model_config(saved: dict) -> dict:
  """The model section of a saved run config (its teacher's or student's)."""
  return saved[config_lib.section_name(saved['method'])]['model']


def build_model(saved: dict, task: tasks.Task):
  return models.build(ml_collections.ConfigDict(model_config(saved)), task)


def abstract_params(model, task: tasks.Task):
  """Shapes and dtypes of ``model``'s params for ``task``'s inputs (nothing is computed)."""
  return abstract_variables(model, task)['params']


def abstract_variables(model, task: tasks.Task) -> dict:
  """Shapes and dtypes of ``model``'s variables: {'params': ..., **its other collections}."""
  return calls.join(*jax.eval_shape(lambda k: calls.init(model, k, task.init_inputs),
                                    jax.random.key(0)))


def frozen_model(workdir: str, tasks_accepted: tuple[str, ...]):
  """(model, task, data config) of the run in ``workdir``; its task must be accepted."""
  saved = run_config.read(workdir)
  if saved is None or saved['data']['task'] not in tasks_accepted:
    raise ValueError(f'{workdir} is not a run of {tasks_accepted} (no config.json with such '
                     'a task)')
  data = ml_collections.ConfigDict(saved['data'])
  task = tasks.build(data, 1)
  return build_model(saved, task), task, data


def load_latest(workdir: str, tasks_accepted: tuple[str, ...]):
  """(model, params of the latest checkpoint, data config) of the run in ``workdir``."""
  model, _, data = frozen_model(workdir, tasks_accepted)
  params, _ = checkpoints.load_latest_params(workdir)
  params = params.get('student', params)  # curriculum students carry their heads beside it
  return model, params, data


@dataclasses.dataclass
class LoadedRun:
  """A run read back by ``load_run``: its model, params (and model state) at ``step``, config."""

  model: Any  # the Flax Linen module (a curriculum student without its stage heads)
  params: Any
  model_state: dict  # the model's other collections (BatchNorm statistics), often empty
  config: ml_collections.ConfigDict  # the run's config.json
  step: int
  workdir: str

  @property
  def variables(self) -> dict:
    return calls.join(self.params, self.model_state)

  def apply(self, inputs):
    """The model's outputs for ``inputs`` in evaluation mode."""
    return calls.eval_apply(self.model)(self.variables, inputs)


def load_run(workdir: str, step: int | None = None) -> LoadedRun:
  """The model, params and config of the run in ``workdir``: a teacher, a student, a sweep
  member (whose state lives in its sweep's stacked checkpoint), from the CLI or the API.

  ``step``: a saved trajectory point or checkpoint step; None = the newest of either.
  """
  saved = run_config.read(workdir)
  if saved is None:
    raise FileNotFoundError(f'{workdir} has no {run_config.FILENAME}: not a pdistill run')
  config = ml_collections.ConfigDict(saved)
  task = tasks.build(config.data, 1)
  model = build_model(saved, task)
  abstract = abstract_variables(model, task)
  points, kept = trajectory.saved_steps(workdir), checkpoints.saved_steps(workdir)
  member, source = None, workdir
  if not points and not kept:  # a sweep member without a trajectory: its sweep's checkpoint
    source, member = _sweep_of(workdir)
    kept = checkpoints.saved_steps(source)
  newest = max(points + kept) if points or kept else None
  step = newest if step is None else step
  if step is None or (step not in points and step not in kept):
    raise ValueError(f'{workdir}: no trajectory point or checkpoint at step {step}; saved: '
                     f'trajectory {points}, checkpoints {kept}')
  if step in points:
    variables = trajectory.load_variables(workdir, step, abstract)
    params, model_state = calls.split(jax.tree.map(np.asarray, variables))
  else:
    state, _ = checkpoints.load_state(source, step)
    if member is not None:
      state = jax.tree.map(lambda a: a[member], state)
    params, model_state = state['params'], state.get('model_state') or {}
  params = params.get('student', params) if saved['method'] == 'curriculum' else params
  return LoadedRun(model=model, params=params, model_state=dict(model_state), config=config,
                   step=step, workdir=workdir)


def _sweep_of(member_dir: str) -> tuple[str, int]:
  """(the sweep's workdir, this member's index in its stacked state)."""
  sweep_dir = os.path.dirname(os.path.dirname(os.path.abspath(member_dir)))
  saved = run_config.read(sweep_dir)
  if saved is None or 'sweep' not in saved:
    raise FileNotFoundError(f'{member_dir} has no trajectory or checkpoints, and is not a '
                            'sweep member')
  rates, seeds = config_lib.sweep_grid(ml_collections.ConfigDict(saved))
  dirs = [os.path.abspath(config_lib.sweep_member_dir(sweep_dir, lr, s))
          for lr in rates for s in seeds]
  return sweep_dir, dirs.index(os.path.abspath(member_dir))
