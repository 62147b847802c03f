"""Loads a finished run's model and latest params for probing (the model is never trained)."""

from __future__ import annotations

import ml_collections

from pdistill import models, run_checkpoint, run_config, tasks


def load(workdir: str, tasks_accepted: tuple[str, ...]):
  """(model, params, data config) of the run in ``workdir``; its task must be accepted."""
  saved = run_config.read(workdir)
  if saved is None or saved['data']['task'] not in tasks_accepted:
    raise ValueError(f'{workdir} is not a run of {tasks_accepted} (no config.json with such '
                     'a task)')
  data = ml_collections.ConfigDict(saved['data'])
  section = 'teacher' if saved['method'] == 'teacher' else 'student'
  model = models.build(ml_collections.ConfigDict(saved[section]['model']), tasks.build(data, 1))
  params, _ = run_checkpoint.load_latest_params(workdir)
  params = params.get('student', params)  # curriculum students carry their heads beside it
  return model, params, data
