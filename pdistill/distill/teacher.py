"""Finds a finished teacher run, builds the student's schedule and loads its checkpoints stacked.

Teachers are never trained or checkpointed by a student: their params are an argument of the
student's chunk, stacked by schedule position (``steps.make_chunk_fn``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from typing import Any, Callable

import ml_collections

from pdistill import config as config_lib
from pdistill import saved_run
from pdistill.distill import phase_transition, schedules
from pdistill.config import ConfigError
from pdistill.config.checks import choice, positive, require
from pdistill.data import tasks
from pdistill.models import calls
from pdistill.parallel import mesh
from pdistill.steps import all_finite
from pdistill.metrics import log as metrics_log
from pdistill.storage import checkpoints, digest, run_config, run_lock, trajectory

FIELD = 'student.teacher_workdir'
PROVENANCE = 'teacher.json'  # in a student's workdir: which teacher it distils from
log = logging.getLogger('pdistill')


@dataclasses.dataclass
class Teacher:
  apply: Callable  # (variables, inputs) -> outputs, in evaluation mode
  stack: Any  # variables ({'params': ..., **model state}), leading axis = schedule position
  schedule: schedules.TeacherSchedule
  workdir: str
  model_config: dict


def _steps_text(steps) -> str:
  steps = list(steps)
  if len(steps) <= 12:
    return str(steps)
  return f'[{", ".join(map(str, steps[:5]))}, ..., {", ".join(map(str, steps[-5:]))}] ({len(steps)} in all)'


def check_workdir(config) -> None:
  """A distilling student names its teacher (ConfigError otherwise)."""
  if not config.student.teacher_workdir:
    raise ConfigError(FIELD, 'is empty: set it to the workdir of a finished teacher run '
                      '(python -m pdistill.main --config=...:teacher --workdir=DIR)')


@dataclasses.dataclass
class Found:
  """A finished teacher run as a student finds it."""
  config: dict  # its config.json
  steps: list[int]  # its saved trajectory steps up to the final teacher
  final: int  # the step that serves as the final teacher
  missing: list[int]  # points its trajectory should hold up to there but lacks


def _finished(workdir: str, saved_config: dict) -> bool:
  """Whether the run reached its last step (its checkpoint, or its metrics, say so)."""
  num_steps = saved_config['teacher']['num_steps']
  if checkpoints.latest_step(workdir) == num_steps:
    return True
  return any(r.get('step') == num_steps for r in metrics_log.read(workdir))


def find_teacher(config) -> Found:
  """The teacher run ``student.teacher_workdir`` names, or a ConfigError saying what is wrong."""
  check_workdir(config)
  workdir = config.student.teacher_workdir
  if not os.path.isdir(workdir):
    raise ConfigError(FIELD, f'{workdir!r} does not exist: train the teacher first '
                      '(python -m pdistill.main --config=...:teacher --workdir=DIR)')
  try:
    saved_config = run_config.read(workdir)
  except run_lock.WorkdirError as e:
    raise ConfigError(FIELD, str(e)) from None
  if saved_config is None:
    raise ConfigError(FIELD, f'{workdir!r} has no {run_config.FILENAME}: not a pdistill run')
  if 'sweep' in saved_config:
    rates, seeds = config_lib.sweep_grid(ml_collections.ConfigDict(saved_config))
    members = [config_lib.sweep_member_dir(workdir, lr, s) for lr in rates for s in seeds]
    raise ConfigError(FIELD, f'{workdir!r} is a sweep of {len(members)} '
                      f'{saved_config["method"]} runs, not one run; name one of its members, '
                      f'e.g. {members[0]!r}')
  if saved_config['method'] != 'teacher':
    raise ConfigError(FIELD, f'{workdir!r} holds a {saved_config["method"]!r} run, not a '
                      'teacher run')
  data = config_lib.run_dict(config)['data']
  # What defines the task a teacher solved must match; how a run evaluates itself may differ.
  for field, was, now in config_lib.recorded_diffs(saved_config['data'], data, 'data'):
    if field.split('.')[1] not in tasks.EVAL_FIELDS:
      raise ConfigError(field, f'is {now!r} but the teacher in {workdir!r} was trained with '
                        f'{was!r}')
  steps = trajectory.saved_steps(workdir)
  final = final_step(config, saved_config)
  if final not in steps:
    if config.student.get('teacher_final_step', -1) != -1:
      raise ConfigError('student.teacher_final_step',
                        f'the teacher in {workdir!r} saved no trajectory point at step {final};'
                        f' saved steps are {_steps_text(steps)}')
    if _finished(workdir, saved_config):
      raise ConfigError(FIELD, f'the teacher in {workdir!r} finished, but its trajectory lacks '
                        f'its last step {final} (its points were removed: only retraining '
                        'makes them again); retrain it in a new workdir, or set '
                        'student.teacher_final_step to a saved step '
                        f'({_steps_text(steps) if steps else "none is saved"})')
    latest = max(steps) if steps else None
    raise ConfigError(FIELD, f'the teacher run in {workdir!r} is not finished (latest '
                      f'trajectory step {latest} of {final}); rerun its command to finish it, '
                      'or set student.teacher_final_step to a saved step')
  every = saved_config['teacher']['trajectory_every_steps']
  expected = trajectory.expected_steps(every, saved_config['teacher']['num_steps'], final)
  kept = [s for s in steps if s <= final]
  return Found(saved_config, kept, final, sorted(set(expected) - set(kept)))


def final_step(config, saved_config: dict) -> int:
  """The teacher step that serves as the final teacher: its last, or teacher_final_step."""
  chosen = config.student.get('teacher_final_step', -1)
  return saved_config['teacher']['num_steps'] if chosen == -1 else chosen


def build_schedule(config, found: Found):
  """The student's teacher schedule: the final teacher alone (one_shot, curriculum), or the
  ``student.schedule.kind`` of a progressive student."""
  if config.method in ('one_shot', 'curriculum'):  # the final teacher only
    return schedules.one_shot(found.final)
  schedule = config.student.schedule
  kind = SCHEDULE_KINDS[schedule.kind]
  if kind.reads_trajectory and found.missing and not schedule.get('sparse_trajectory', False):
    raise ConfigError(FIELD, f'the trajectory of the teacher in '
                      f'{config.student.teacher_workdir!r} lacks the points of steps '
                      f'{_steps_text(found.missing)} (removed, or lost before a resume); a '
                      f'{schedule.kind} schedule reads the whole trajectory, so later points '
                      'would silently stand in for them. Retrain the teacher, use a manual '
                      'schedule of saved steps, or set student.schedule.sparse_trajectory=True '
                      'to use the saved points as they are')
  return kind.build(config, found.steps, found.final)


def _lengths_fit(config, per) -> None:
  """A progressive schedule's lengths leave the student steps for its last teacher."""
  require(sum(per) < config.student.num_steps, 'student.schedule.steps_per_checkpoint',
          f'sums to {sum(per)} >= student.num_steps={config.student.num_steps}, so the last '
          'teacher (the final one) would never be used')


def _build_auto(config, saved_steps, final_step):
  schedule = config.student.schedule
  try:
    found = phase_transition.find_in_trajectory(config.student.teacher_workdir,
                                                schedule.auto_points, schedule.auto_metric,
                                                last_step=final_step,
                                                at=tuple(schedule.get('auto_at', ())))
  except phase_transition.NoTransition as e:
    raise ConfigError('student.schedule.kind', f'auto: {e}') from None
  log.info('auto schedule: teacher transition at steps %d..%d; using checkpoints %s then '
           'the final one', found.start, found.end, found.proposed)
  per = tuple(schedule.steps_per_checkpoint)
  if len(per) != len(found.proposed):  # two proposals can coincide on a coarse trajectory
    per = per[:len(found.proposed)]
  return schedules.manual(list(found.proposed) + [-1], per, final_step)


def _build_manual(config, saved_steps, final_step):
  schedule = config.student.schedule
  for c in schedule.checkpoints:
    if c != -1 and c > final_step:
      raise ConfigError('student.schedule.checkpoints',
                        f'teacher checkpoint {c} comes after the final teacher (step '
                        f'{final_step}, student.teacher_final_step): a schedule uses '
                        'checkpoints up to the final one; lower it, or raise '
                        'student.teacher_final_step')
    if c != -1 and c not in saved_steps:
      raise ConfigError('student.schedule.checkpoints',
                        f'teacher checkpoint {c} does not exist in '
                        f'{os.path.join(config.student.teacher_workdir, trajectory.SUBDIR)}; '
                        f'saved steps are {_steps_text(saved_steps)} (-1 means the final one)')
  return schedules.manual(schedule.checkpoints, schedule.steps_per_checkpoint, final_step)


def _build_multiplier(config, saved_steps, final_step):
  del final_step  # the saved steps end there
  return schedules.multiplier_rule(saved_steps, config.student.schedule.multiplier,
                                   config.student.num_steps)


def _check_manual(config) -> None:
  schedule = config.student.schedule
  checkpoints, per = tuple(schedule.checkpoints), tuple(schedule.steps_per_checkpoint)
  require(len(checkpoints) >= 1, 'student.schedule.checkpoints', 'is empty')
  problem = schedules.manual_lengths_error(checkpoints, per)
  require(problem is None, 'student.schedule.steps_per_checkpoint', str(problem))
  require(all(p > 0 for p in per), 'student.schedule.steps_per_checkpoint',
          f'entries must be positive, got {per!r}')
  _lengths_fit(config, per)


def _check_auto(config) -> None:
  schedule = config.student.schedule
  positive(config, 'student.schedule.auto_points')
  choice(config, 'student.schedule.auto_metric', tuple(phase_transition.RISING))
  per = tuple(schedule.steps_per_checkpoint)
  at = tuple(schedule.get('auto_at', ()))
  require(all(0 < a < 1 for a in at) and all(a < b for a, b in zip(at, at[1:])),
          'student.schedule.auto_at', f'must be increasing fractions of the rise in (0, 1), '
          f'e.g. (0.3, 0.6), got {at!r}')
  points = len(at) or schedule.auto_points
  require(len(per) == points and all(p > 0 for p in per),
          'student.schedule.steps_per_checkpoint',
          f'auto needs one positive entry per proposed checkpoint ('
          + (f'auto_at={at!r}' if at else f'auto_points={schedule.auto_points}')
          + f'), got {per!r}')
  _lengths_fit(config, per)


def _check_multiplier(config) -> None:
  positive(config, 'student.schedule.multiplier')


@dataclasses.dataclass(frozen=True)
class ScheduleKind:
  build: Callable  # (config, saved teacher steps, final step) -> schedules.TeacherSchedule
  check: Callable  # (config) -> None, or ConfigError naming the field
  reads_trajectory: bool  # reads every saved point (a gap would change what it does)


# The vocabulary of ``student.schedule.kind`` (progressive students).
SCHEDULE_KINDS = {
    'manual': ScheduleKind(_build_manual, _check_manual, False),  # the paper's (N, T)
    'multiplier': ScheduleKind(_build_multiplier, _check_multiplier, True),  # the reference's
    'auto': ScheduleKind(_build_auto, _check_auto, True),  # in the teacher's transition
}


def check_schedule(config) -> None:
  """Checks a progressive student's ``student.schedule`` (ConfigError naming the field)."""
  choice(config, 'student.schedule.kind', SCHEDULE_KINDS)
  SCHEDULE_KINDS[config.student.schedule.kind].check(config)


def _check_memory(points: int, abstract_variables, workdir: str) -> None:
  """States what the stacked teacher checkpoints take before loading them; refuses a stack
  that would not fit (it is loaded on the host, then placed on every device)."""
  need = points * mesh.tree_bytes(abstract_variables)
  free, where = mesh.free_bytes()
  log.info('teacher: %d checkpoint(s) of %s stacked: %.1f MiB (%s MiB free in %s)', points,
           workdir, need / 2**20, 'unknown' if free is None else f'{free / 2**20:,.0f}', where)
  problem = mesh.room_error(need, f'the {points} teacher checkpoints it selects from {workdir}',
                            (free, where))
  if problem:
    raise ConfigError('student.schedule', f'{problem}; use fewer checkpoints (a manual or auto '
                      'schedule, or a larger schedule.multiplier)')


def load_teacher(config, task: tasks.Task, sharding) -> Teacher:
  found = find_teacher(config)
  workdir = config.student.teacher_workdir
  schedule = build_schedule(config, found)
  model = saved_run.build_model(found.config, task)
  abstract = saved_run.abstract_variables(model, task)
  problem = trajectory.shape_error(workdir, schedule.teacher_steps[0], abstract['params'])
  if problem:
    raise ConfigError(FIELD, f'the teacher in {workdir}: {problem}: its checkpoints do not fit '
                      'its config.json (edited, or copied from another run); distil from a '
                      'teacher whose config.json is the one it was trained with')
  _check_memory(len(schedule.teacher_steps), abstract, workdir)
  try:
    stack = trajectory.load_stacked(workdir, schedule.teacher_steps, abstract, sharding)
  except digest.CorruptCheckpoint as e:
    raise ConfigError(FIELD, f'{e}; retrain the teacher, or distil from its other '
                      'checkpoints (student.schedule)') from None
  finite = mesh.fetch(all_finite(stack, stacked=True))
  bad = [s for s, ok in zip(schedule.teacher_steps, finite) if not ok]
  if bad:
    raise ConfigError(FIELD, f'the teacher checkpoint of step {bad[0]} in {workdir} has '
                      'non-finite params (a diverged or corrupted teacher); distil from a '
                      'teacher whose trajectory is finite')
  return Teacher(apply=calls.eval_apply(model), stack=stack, schedule=schedule, workdir=workdir,
                 model_config=saved_run.model_config(found.config))


def identity(teacher: Teacher) -> dict:
  """What makes a teacher the one a student learns from: its run config and the exact
  checkpoints stacked for the student (their digest), with where it was found."""
  with open(os.path.join(teacher.workdir, run_config.FILENAME), 'rb') as f:
    config_digest = hashlib.sha256(f.read()).hexdigest()
  steps = list(teacher.schedule.teacher_steps)
  saved = trajectory.saved_digests(teacher.workdir, steps)  # verified when they were loaded
  stack = '/'.join(saved) if all(saved) else digest.of(teacher.stack)  # older: hash the stack
  return {'workdir': os.path.abspath(teacher.workdir), 'config_sha256': config_digest,
          'steps': steps, 'stack_sha256': hashlib.sha256(stack.encode()).hexdigest()}


def located(workdir: str) -> tuple[str, ...]:
  """The config fields that only locate this student's teacher: its path, once the teacher's
  identity is recorded in ``workdir`` (``pin``), so that a moved teacher (a moved pipeline)
  is found again while a different one is still refused."""
  return (FIELD,) if os.path.exists(os.path.join(workdir, PROVENANCE)) else ()


def pin(workdir: str, teacher: Teacher, write: bool = True) -> None:
  """Records the student's teacher in ``workdir`` (``PROVENANCE``), or, when one is recorded,
  refuses a different one (ConfigError): a student never mixes teachers.  A teacher found at
  another path with the same config and checkpoints (a copy reached through a relative path
  from elsewhere) is the same teacher: said in the log, and the record follows it."""
  now = identity(teacher)
  path = os.path.join(workdir, PROVENANCE)
  if os.path.exists(path):
    with open(path) as f:
      was = json.load(f)
    if was.get('config_sha256') != now['config_sha256']:
      raise ConfigError(FIELD, f'the teacher in {now["workdir"]} is not the one this student '
                        f'in {workdir} distilled from ({was.get("workdir")}): its config.json '
                        'differs; distil from that teacher, or start this student in a new '
                        '--workdir')
    if was.get('steps') != now['steps'] or was.get('stack_sha256') != now['stack_sha256']:
      raise ConfigError(FIELD, f'the teacher in {now["workdir"]} is not the one this student '
                        f'in {workdir} distilled from ({was.get("workdir")}): its checkpoints '
                        f'{now["steps"]} differ from those recorded ({was.get("steps")}; '
                        'retrained or changed); distil from that teacher, or start this '
                        'student in a new --workdir')
    if was.get('workdir') == now['workdir']:
      return
    log.info('%s: its teacher moved from %s to %s (same config and checkpoints)', workdir,
             was.get('workdir'), now['workdir'])
  if write:
    os.makedirs(workdir, exist_ok=True)
    with open(path + '.tmp', 'w') as f:
      json.dump(now, f, indent=2)
    os.replace(path + '.tmp', path)
