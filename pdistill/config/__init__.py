"""The config vocabulary: what configs are made of and named by; it imports only ml_collections.

Config files (``configs/*.py``) import only this package, so loading one never starts JAX.

* ``METHODS`` and its subsets, ``ConfigError`` (a bad value, named by its dotted field);
* ``section_name`` / ``run_section``: which section (``teacher`` or ``student``) a method runs;
* ``run_dict``: the JSON-normal part of a config that defines one run (pinned in config.json);
* ``pipeline_entry``: what an entry of ``pipeline_methods`` runs, and its folder name;
* ``builders``: the pieces every experiment config is built from;
* ``files``: loading ``configs/X.py[:options]`` from a checkout or an installed wheel.
"""

from __future__ import annotations

import json
import os

METHODS = ('pipeline', 'teacher', 'ce', 'one_shot', 'progressive', 'curriculum')
STUDENT_METHODS = ('ce', 'one_shot', 'progressive', 'curriculum')
DISTILL_METHODS = ('one_shot', 'progressive', 'curriculum')  # they read a teacher


class ConfigError(ValueError):
  """A config value that cannot run; ``field`` is its dotted path, e.g. 'student.alpha'."""

  def __init__(self, field: str, message: str):
    super().__init__(f'config.{field}: {message}')
    self.field = field


def section_name(method: str) -> str:
  """The config section a run of ``method`` trains: 'teacher' or 'student'."""
  return 'teacher' if method == 'teacher' else 'student'


def run_section(config):
  """``config.teacher`` or ``config.student``: the section of the run ``config.method`` names."""
  return config[section_name(config.method)]


def pipeline_entry(entry: str) -> tuple[str, str, dict]:
  """(method, label, schedule updates) of one ``pipeline_methods`` entry.

  ``ce``, ``one_shot``, ``progressive``, ``curriculum``: the method as configured;
  ``progressive:KIND``: its schedule kind set to KIND (label ``progressive_KIND``);
  ``progressive:CxT``: the paper's (2, T) schedule, teacher checkpoint C for T student steps,
  then the final teacher (label ``progressive_C_T``).  Values are checked by validation.
  """
  method, _, option = entry.partition(':')
  if not option:
    return method, method, {}
  first, x, steps = option.partition('x')
  if x and first.isdigit() and steps.isdigit():
    return method, f'{method}_{first}_{steps}', dict(
        kind='manual', checkpoints=(int(first), -1), steps_per_checkpoint=(int(steps),))
  return method, f'{method}_{option}', dict(kind=option)


def is_sweep(config) -> bool:
  return bool(config.sweep.learning_rates or config.sweep.seeds)


def sweep_grid(config) -> tuple[tuple[float, ...], tuple[int, ...]]:
  """A sweep's (learning rates, seeds); an empty axis is the run's own value.  Its members
  are every (learning rate, seed), learning rates outermost (the stacked state's order)."""
  run = run_section(config)
  rates = tuple(config.sweep.learning_rates) or (run.optim.learning_rate,)
  seeds = tuple(config.sweep.seeds) or (config.seed,)
  return rates, seeds


def sweep_member_dir(workdir: str, learning_rate: float, seed: int) -> str:
  return os.path.join(workdir, f'lr_{learning_rate:g}', f'seed_{seed}')


def run_dict(config) -> dict:
  """JSON-normal dict of what one (non-pipeline) run depends on; ``loop`` is left out."""
  section = section_name(config.method)
  d = {'method': config.method, 'seed': config.seed, 'data': config.data.to_dict(),
       section: config[section].to_dict()}
  if is_sweep(config):
    d['sweep'] = config.sweep.to_dict()
  if section == 'student' and config.method != 'progressive':
    del d['student']['schedule']  # only progressive students read it
  if section == 'student' and config.method != 'curriculum':
    d['student'].pop('curriculum', None)
  if config.method == 'ce':
    d['student'] = {k: v for k, v in d['student'].items()
                    if k not in ('alpha', 'temperature', 'teacher_workdir',
                                 'teacher_final_step')}
  return json.loads(json.dumps(d))
