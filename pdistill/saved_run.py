"""A finished (or running) run read back from its workdir: its config, model and params.

One place rebuilds a run's model from its ``config.json``; teachers loaded for distillation
and frozen models loaded for probing both come through here.
"""

from __future__ import annotations

import jax
import ml_collections

from pdistill import config as config_lib
from pdistill import models
from pdistill.data import tasks
from pdistill.storage import checkpoints, run_config


def model_config(saved: dict) -> dict:
  """The model section of a saved run config (its teacher's or student's)."""
  return saved[config_lib.section_name(saved['method'])]['model']


def build_model(saved: dict, task: tasks.Task):
  return models.build(ml_collections.ConfigDict(model_config(saved)), task)


def abstract_params(model, task: tasks.Task):
  """Shapes and dtypes of ``model``'s params for ``task``'s inputs (nothing is computed)."""
  return jax.eval_shape(model.init, jax.random.key(0), task.init_inputs)['params']


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
