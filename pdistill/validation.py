"""Checks a config before anything is written, naming the bad field and what would be valid.

``train.train_and_evaluate`` calls ``validate`` once.  Each vocabulary's rules live with its
owner, and this module only asks them: tasks (``data.tasks``), models (``models``),
optimizers, divergences (``student.loss``), schedule kinds and the teacher (``teacher``),
curriculum extraction (``curriculum``), sweeps (``sweep``).  What is left here are the fields
of a run section and of ``loop``, which no other module owns.

Unknown fields and wrong types given on the command line are rejected earlier, by
ml_collections itself (``--config.x=y`` only sets existing fields, with their type).
"""

from __future__ import annotations

from pdistill import models, optimizers, sweep
from pdistill.distill import curriculum, divergences, teacher
from pdistill.config import (DISTILL_METHODS, METHODS, STUDENT_METHODS, apply_entry,
                             pipeline_entry)
from pdistill.config.checks import choice, get, positive, require
from pdistill.data import tasks


def validate(config) -> None:
  choice(config, 'method', METHODS)
  methods = config.pipeline_methods if config.method == 'pipeline' else (config.method,)
  if config.method == 'pipeline':
    for entry in methods:
      _check_entry(entry)
    _check_seeds(config)
  seq, _ = tasks.check(config)
  sweep.check(config)
  runs = {'pipeline': ('teacher', 'student'), 'teacher': ('teacher',)}.get(config.method,
                                                                          ('student',))
  for run in runs:
    _check_run(config, run, seq)
  if 'student' in runs:
    _check_student(config, methods)
  for field in ('chunk_steps', 'eval_every_steps', 'checkpoint_every_steps', 'eval_batch_size',
                'teacher_batch_rows'):
    positive(config, f'loop.{field}')
  positive(config, 'loop.num_devices', allow_zero=True)
  positive(config, 'loop.sgd_block_steps', allow_zero=True)
  processes = config.loop.get('host_data_processes', 0)
  require(isinstance(processes, int) and not isinstance(processes, bool) and processes >= 0,
          'loop.host_data_processes', 'must be a whole number >= 0 (0 or 1: batches made in '
          f'the loop\'s own process; N > 1: by N worker processes), got {processes!r}')


def _check_seeds(config) -> None:
  for field in ('pipeline_student_seeds', 'pipeline_teacher_seeds'):
    seeds = tuple(get(config, field)) if field in config else ()
    require(all(isinstance(s, int) and s >= 0 for s in seeds) and len(set(seeds)) == len(seeds),
            field, f'must be distinct non-negative integers, got {seeds!r}')
  require(not (config.get('pipeline_teacher_seeds') and config.student.teacher_workdir),
          'pipeline_teacher_seeds', 'trains teachers, but student.teacher_workdir names one to '
          'distil from; give one or the other')


def _check_entry(entry: str) -> None:
  """One ``pipeline_methods`` entry: ``METHOD[:SCHEDULE][@LOSS]``."""
  method, _, updates = pipeline_entry(entry)
  option = entry.partition('@')[0].partition(':')[2]
  require(method in STUDENT_METHODS and (not option or method == 'progressive'),
          'pipeline_methods', f'{entry!r} is not one of {STUDENT_METHODS} (progressive may '
          'name a schedule kind, e.g. progressive:auto, or a (2, T) schedule, progressive:CxT; '
          'a distilling method a divergence, e.g. one_shot@jsd)')
  require('loss' not in updates or method in DISTILL_METHODS, 'pipeline_methods',
          f'{entry!r}: {method} trains on the labels alone; only {DISTILL_METHODS} take a '
          'divergence (@LOSS)')
  kind = updates.get('schedule', {}).get('kind')
  require(not option or kind in teacher.SCHEDULE_KINDS, 'pipeline_methods',
          f'{entry!r}: schedule kind {kind!r} is not one of {tuple(teacher.SCHEDULE_KINDS)} '
          '(or CxT: checkpoint C for T steps)')


def _check_run(config, run: str, seq: int | None) -> None:
  models.check(config, run, seq)
  optimizers.check(config, run)
  positive(config, f'{run}.batch_size')
  positive(config, f'{run}.num_steps')
  positive(config, f'{run}.trajectory_every_steps', allow_zero=run == 'student')


def _check_student(config, methods) -> None:
  positive(config, 'student.temperature', allow_zero=True)
  alpha = config.student.alpha
  require(0 <= alpha <= 1, 'student.alpha', f'must be in [0, 1], got {alpha!r}')
  if 'teacher_final_step' in config.student:
    final = config.student.teacher_final_step
    require(isinstance(final, int) and (final == -1 or final > 0), 'student.teacher_final_step',
            f'must be -1 (the teacher\'s last step) or a saved teacher step, got {final!r}')
  for entry in methods:
    method, _, updates = pipeline_entry(entry)
    checked = config.copy_and_resolve_references()
    apply_entry(checked, updates)
    if method in DISTILL_METHODS:
      divergences.check(checked.student,
                        'pipeline_methods' if 'loss' in updates else 'student.loss')
    if method == 'progressive':
      teacher.check_schedule(checked)
    if method == 'curriculum':
      curriculum.check(checked)
  if config.method in DISTILL_METHODS:
    teacher.check_workdir(config)
