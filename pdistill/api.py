"""Progressive distillation for your own Flax model and data: ``pdistill.fit``.

It builds the same config a ``configs/*.py`` file builds (``make_config``) and runs it with
``train_and_evaluate``, the entry point of the command line: the same engine, the same
workdir layout (``config.json``, ``metrics.jsonl``, ``trajectory/``, ``checkpoints/``).  The
model and the data are pinned in ``config.json`` by reference (``config.references``), so
``python -m pdistill.main`` students, probes, plots, ``phase_transition`` and ``load_run``
work on an API run, and an API student can distil from a command-line teacher.

  teacher = pdistill.fit('runs/t', method='teacher', model=MyNet(width=512),
                           data=make_data, data_kwargs=dict(noise=0.1), num_steps=20_000,
                           trajectory_every_steps=500)
  pdistill.fit('runs/s', method='progressive', model=MyNet(width=64), data=make_data,
                 data_kwargs=dict(noise=0.1), num_steps=20_000, teacher_workdir='runs/t',
                 schedule=dict(kind='auto', steps_per_checkpoint=(2_000,)))
  run = pdistill.load_run('runs/s')          # model, params, model_state, config, step
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable

import flax.linen as nn
import ml_collections

from pdistill.config import LOSS_DEFAULTS, builders, references
from pdistill.data import custom, tasks
from pdistill.metrics import progress
from pdistill.train import train_and_evaluate

_NOT_FIELDS = ('parent', 'name')


def model_config(model: nn.Module) -> dict:
  """``model.name='linen'``: the module's class by reference and its fields as keywords."""
  if not isinstance(model, nn.Module):
    raise TypeError(f'model must be a flax.linen.Module instance, got {type(model).__name__}')
  kwargs = {f.name: getattr(model, f.name) for f in dataclasses.fields(model)
            if f.init and f.name not in _NOT_FIELDS}
  try:
    json.dumps(kwargs)
  except TypeError as e:
    raise ValueError(f'{type(model).__name__}: its fields must be JSON values (numbers, '
                     f'strings, booleans, lists, dicts) to be written to config.json: {e}') from None
  return dict(name='linen', module=references.reference(type(model)), kwargs=kwargs)


def make_config(*, method: str, model: nn.Module | dict,
                data: Callable[..., custom.Data] | dict, num_steps: int,
                data_kwargs: dict | None = None, batch_size: int | None = None, seed: int = 0,
                optimizer: str = 'adam', learning_rate: float = 1e-3,
                lr_schedule: str = 'constant', warmup_frac: float = 0.0,
                weight_decay: float = 0.0, trajectory_every_steps: int = 0,
                teacher_workdir: str = '', schedule: dict | None = None, alpha: float = 0.0,
                temperature: float = 1.0, loss: str = LOSS_DEFAULTS['loss'],
                loss_kw: dict | None = None, **loop) -> ml_collections.ConfigDict:
  """The config of one run of ``model`` on the ``Data`` that ``data(**data_kwargs)`` returns.

  ``model``: a Linen module (its class must be defined at the top level of a module or script,
  its fields JSON values), or a ``model`` config section (e.g. a teacher's, from its
  config.json).  ``data``: a top-level function returning ``pdistill.Data`` (its batch size
  is the run's), or a ``data`` config section such as a command-line teacher's, with
  ``batch_size`` given: a student then distils from that teacher on its own task.

  method: teacher | ce | one_shot | progressive (curriculum extraction needs pdistill's own
  models).  optimizer: sgd | adam | adamw, with ``learning_rate``, ``lr_schedule`` (constant |
  cosine | linear), ``warmup_frac``, ``weight_decay``.  ``trajectory_every_steps``: a teacher
  saves its params (and model state) this often, for progressive students.  Students:
  ``teacher_workdir``, ``alpha`` (weight of the label loss), ``temperature`` (0 = the teacher's
  argmax), ``loss`` and ``loss_kw`` (the divergence to the teacher and its knobs:
  ``pdistill.distill.divergences``; README, "Distillation losses"), ``schedule`` (progressive: a dict of ``student.schedule`` fields, e.g.
  ``dict(kind='auto', steps_per_checkpoint=(2000,))``; README, "Progressive schedules").
  ``loop``: any ``config.loop`` field (eval_every_steps, checkpoint_every_steps, chunk_steps,
  ...; by default 20 evals and checkpoints per run).
  """
  if isinstance(data, dict):
    if batch_size is None:
      raise ValueError('batch_size: give it with a data config section')
    data_section = dict(data)
  else:
    kwargs = dict(data_kwargs or {})
    data_section = dict(task='custom', factory=references.reference(data), kwargs=kwargs)
    try:
      spec = tasks.custom_data(ml_collections.ConfigDict(data_section))
    except ValueError as e:
      raise ValueError(f'{getattr(data, "__name__", data)}(**data_kwargs): {e}') from None
    batch_size = spec.batch_size() if batch_size is None else batch_size
    data_section['eval_size'] = len(spec.eval_set['inputs'])
  model = dict(model) if isinstance(model, dict) else model_config(model)
  run = dict(model=model, batch_size=batch_size, num_steps=num_steps,
             trajectory_every_steps=trajectory_every_steps,
             optim=builders.optimizer(optimizer, learning_rate, lr_schedule, warmup_frac,
                                      weight_decay=weight_decay))
  every = max(num_steps // 20, 1)
  c = builders.experiment(
      builders.Options(method, 'api', False), data=data_section, teacher=dict(run), student=dict(run, alpha=alpha, temperature=temperature,
                                      teacher_workdir=teacher_workdir),
      loop=dict(dict(chunk_steps=min(every, 1_000), eval_every_steps=every,
                     checkpoint_every_steps=every, log_every_secs=30.0), **loop))
  c.seed = seed
  c.student.schedule.update(schedule or {})
  c.student.loss = loss
  c.student.loss_kw.update(loss_kw or {})
  return c


def fit(workdir: str, *, show_progress: bool = True, **kwargs) -> dict:
  """Runs ``make_config(**kwargs)`` in ``workdir`` (resuming what is there); its final metrics.

  ``show_progress``: the command line's progress lines (step, rate, ETA, last eval) on stderr.
  """
  references.check_not_loading('pdistill.fit')
  if show_progress:
    progress.log_to_stderr()
  with tasks.reusing_custom_data():  # the data factory runs once for the config and the runs
    return train_and_evaluate(make_config(**kwargs), workdir)
