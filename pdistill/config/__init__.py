"""The config vocabulary: what configs are made of and named by; it imports only ml_collections.

Config files (``configs/*.py``) import only this package, so loading one never starts JAX.

* ``METHODS`` and its subsets, ``ConfigError`` (a bad value, named by its dotted field);
* ``section_name`` / ``run_section``: which section (``teacher`` or ``student``) a method runs;
* ``run_dict``: the JSON-normal part of a config that defines one run (pinned in config.json);
* ``ADDED_FIELDS`` / ``recorded_diffs``: fields added since runs were first recorded, with the
  value a run recorded without one ran with, and the comparison that honours them;
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


# The student's loss (``pdistill.distill.divergences`` owns the names and formulas).
LOSS_DEFAULTS = dict(
    loss='forward_kl',
    loss_kw=dict(
        beta=0.5,  # jsd: m = beta p + (1 - beta) q
        skew=0.1,  # skew_forward_kl / skew_reverse_kl
        t_start=0.4, t_end=1.0,  # taid: the interpolation weight of the teacher moves up
        t_schedule='linear',  # taid: linear | adaptive (the TAID paper's momentum rule)
        t_step_size=5e-4, t_momentum=0.99))  # taid adaptive: the rule's alpha and beta

# Fields a run's config.json may lack because it was recorded before they existed, and the
# value such a run ran with: a new option with a default is added here, so that no recorded
# teacher or student is stranded by it.  '*' stands for the teacher or student section.
ADDED_FIELDS = {
    'student.loss': LOSS_DEFAULTS['loss'],
    'student.loss_kw': LOSS_DEFAULTS['loss_kw'],
    'student.teacher_final_step': -1,
    'student.schedule.sparse_trajectory': False,
    'student.schedule.auto_at': [],
    '*.model.attention': 'flax',
    '*.model.dtype': 'float32',
    'data.as_tokens': False,
}


def added_default(field: str):
  """(True, default) for a field of ``ADDED_FIELDS`` (dotted, as in config.json), else
  (False, None)."""
  if field in ADDED_FIELDS:
    return True, ADDED_FIELDS[field]
  section, _, rest = field.partition('.')
  if section in ('teacher', 'student') and f'*.{rest}' in ADDED_FIELDS:
    return True, ADDED_FIELDS[f'*.{rest}']
  return False, None


_ABSENT = object()


def recorded_diffs(saved, new, prefix: str = ''):
  """(field, recorded value, new value) for each difference between a recorded config dict and
  a new one.  A field the record lacks is no difference when the new value is its
  ``ADDED_FIELDS`` default; a field present in both must match."""
  if isinstance(saved, dict) and isinstance(new, dict):
    for key in sorted(set(saved) | set(new)):
      yield from recorded_diffs(saved.get(key, _ABSENT), new.get(key, _ABSENT),
                                f'{prefix}{"." if prefix else ""}{key}')
    return
  if saved is _ABSENT:
    known, default = added_default(prefix)
    if known and new == default:
      return
  if saved != new:
    yield (prefix, None if saved is _ABSENT else saved, None if new is _ABSENT else new)


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
  """(method, label, student updates) of one ``pipeline_methods`` entry,
  ``METHOD[:SCHEDULE][@LOSS]``.

  ``ce``, ``one_shot``, ``progressive``, ``curriculum``: the method as configured;
  ``progressive:KIND``: its schedule kind set to KIND (label ``progressive_KIND``);
  ``progressive:CxT``: the paper's (2, T) schedule, teacher checkpoint C for T student steps,
  then the final teacher (label ``progressive_C_T``); ``@LOSS`` (a distilling method): its
  ``student.loss`` set to LOSS (label suffix ``@LOSS``), e.g. ``progressive:auto@reverse_kl``.
  The updates are a dict of ``student`` fields (``schedule`` a dict of schedule fields).
  Values are checked by validation.
  """
  entry, at, loss = entry.partition('@')
  method, _, option = entry.partition(':')
  label, updates = method, {}
  if option:
    first, x, steps = option.partition('x')
    if x and first.isdigit() and steps.isdigit():
      label = f'{method}_{first}_{steps}'
      updates['schedule'] = dict(kind='manual', checkpoints=(int(first), -1),
                                 steps_per_checkpoint=(int(steps),))
    else:
      label = f'{method}_{option}'
      updates['schedule'] = dict(kind=option)
  if at:
    label += f'@{loss}'
    updates['loss'] = loss
  return method, label, updates


def apply_entry(config, updates: dict) -> None:
  """Sets a ``pipeline_entry``'s student updates on ``config`` (a copy the entry runs)."""
  for key, value in updates.items():
    if key == 'schedule':
      config.student.schedule.update(value)
    else:
      config.student[key] = value


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
                                 'teacher_final_step', 'loss', 'loss_kw')}
  return json.loads(json.dumps(d))
