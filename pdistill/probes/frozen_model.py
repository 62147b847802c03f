"""Rebuilds a finished run's model, and loads its latest params, for probing (never trained)."""

from __future__ import annotations

import ml_collections

from pdistill import models, run_checkpoint, run_config, tasks


def build_model(workdir: str, tasks_accepted: tuple[str, ...]):
  """(model, task, data config) of the run in ``workdir``; its task must be accepted."""
  saved = run_config.read(workdir)
  if saved is None or saved['data']['task'] not in tasks_accepted:
    raise ValueError(f'{workdir} is not a run of {tasks_accepted} (no config.json with such '
                     'a task)')
  data = ml_collections.ConfigDict(saved['data'])
  section = 'teacher' if saved['method'] == 'teacher' else 'student'
  task = tasks.build(data, 1)
  return models.build(ml_collections.ConfigDict(saved[section]['model']), task), task, data


def load(workdir: str, tasks_accepted: tuple[str, ...]):
  """(model, params of the latest checkpoint, data config) of the run in ``workdir``."""
  model, _, data = build_model(workdir, tasks_accepted)
  params, _ = run_checkpoint.load_latest_params(workdir)
  params = params.get('student', params)  # curriculum students carry their heads beside it
  return model, params, data
