"""The loop: chunks of fused steps between the points where the run must regain control."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

import jax.numpy as jnp

from pdistill import config as config_lib
from pdistill.data import host_pool
from pdistill.distill import teacher as teacher_lib
from pdistill.engine import chunks as chunks_lib
from pdistill.engine.recorder import Recorder
from pdistill.engine.setup import Member, Setup
from pdistill.engine.state import initial_state
from pdistill.metrics import log as metrics_log
from pdistill.parallel import mesh as mesh_lib
from pdistill.storage import checkpoints as checkpoints_lib
from pdistill.storage import run_config, run_lock, trajectory
from pdistill.storage.checkpoints import RunCheckpoints

log = logging.getLogger('pdistill')


def next_stop(step: int, num_steps: int, every: list[int], switches: list[int]) -> int:
  """The next step after ``step`` at which the loop must regain control.

  ``every`` are cadences (chunk length, evals, checkpoints; 0 = none); ``switches`` are steps
  where the chunk's inputs change (teacher, curriculum stage): a chunk never straddles one.
  """
  candidates = [num_steps] + [(step // e + 1) * e for e in every if e]
  candidates += [s for s in switches if s > step]
  return min(candidates)


class Interrupted(RuntimeError):
  """SIGINT or SIGTERM: the run stopped at a chunk boundary after saving a checkpoint."""

  def __init__(self, signum: int, step: int, workdir: str):
    super().__init__(f'{signal.Signals(signum).name}: stopped at step {step} with a checkpoint '
                     f'in {workdir}; rerun the same command to resume')
    self.signum = signum


@contextlib.contextmanager
def _stop_requests():
  """Turns SIGINT/SIGTERM into a request the loop honours at its next chunk boundary.

  A second signal acts at once (the default handlers are back).  Off the main thread (where
  Python cannot install handlers) nothing changes.
  """
  received = []
  if threading.current_thread() is not threading.main_thread():
    yield received
    return
  previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

  def request(signum, frame):
    received.append(signum)
    log.warning('%s: stopping after the current chunk (send it again to stop at once)',
                signal.Signals(signum).name)
    for s, handler in previous.items():
      signal.signal(s, handler)

  for s in previous:
    signal.signal(s, request)
  try:
    yield received
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def finished_records(config, members: list[Member], state_dir: str) -> list[dict]:
  """Each member's final record, for a run in a read-only ``state_dir``: such a run can only
  be finished already (it needs nothing written), or it is refused with WorkdirError."""
  num_steps = config_lib.run_section(config).num_steps
  latest = checkpoints_lib.latest_step(state_dir)
  if latest != num_steps:
    raise run_lock.WorkdirError(
        f'workdir {state_dir} is read-only and its run is not finished (latest checkpoint: '
        f'{latest}, of {num_steps} steps); make it writable to resume it')
  log.info('%s %s: finished already (read-only workdir, nothing written)', config.method,
           state_dir)
  return [next(r for r in reversed(metrics_log.read(m.workdir)) if r['step'] == num_steps)
          for m in members]


def _left_without_checkpoints(config, members: list[Member], state_dir: str):
  """Each member's final record when the run finished but its checkpoints were removed (to
  save disk: students need only a teacher's trajectory); None for a run to start or resume.

  A run that left metrics or trajectory points past step 0 but has no ``checkpoints/`` cannot
  resume (a trajectory point holds the params, not the optimizer state), and starting over
  would replace that history: WorkdirError, saying how to start over on purpose.
  """
  if os.path.isdir(os.path.join(state_dir, checkpoints_lib.SUBDIR)):
    return None
  run = config_lib.run_section(config)
  records = [metrics_log.read(m.workdir) for m in members]
  points = [trajectory.saved_steps(m.workdir) for m in members]
  logged = max((r['step'] for rs in records for r in rs), default=0)
  saved = max((s for ps in points for s in ps), default=0)
  if not logged and not saved:
    return None
  finals = [next((r for r in rs if r['step'] == run.num_steps), None) for rs in records]
  complete = all(run.num_steps in ps for ps in points) or not run.trajectory_every_steps
  if all(finals) and complete:
    log.info('%s %s: finished already (its checkpoints were removed; its metrics%s are '
             'complete)', config.method, state_dir,
             ' and trajectory' if run.trajectory_every_steps else '')
    return [{'step': run.num_steps, **{k: v for k, v in f.items() if k != 'step'}}
            for f in finals]
  raise run_lock.WorkdirError(
      f'{state_dir} has no {checkpoints_lib.SUBDIR}/ but its run got to step '
      f'{max(logged, saved)} ({metrics_log.FILENAME} to step {logged}, trajectory to step '
      f'{saved}): its checkpoints were removed, and a trajectory point holds the params but '
      'not the optimizer state, so it cannot resume; starting over would replace its history. '
      f'To start over on purpose, remove {metrics_log.FILENAME}, tensorboard/ and trajectory/ '
      'there (or use a new --workdir)')


def train_run(config, workdir: str) -> dict:
  """One teacher or student run of a validated config in ``workdir``; its last record."""
  if run_lock.read_only(workdir):
    # refuses a different run, as ever
    run_config.claim(workdir, config, write=False, located=teacher_lib.located(workdir))
    return finished_records(config, [Member(config.seed, None, workdir)], workdir)[0]
  setup = Setup.create(config, members=1)
  # Already held for a run started by train_and_evaluate; a pipeline's sub-runs take their own.
  with run_lock.hold(workdir, enabled=mesh_lib.is_writer()):
    run_config.claim(workdir, config, write=mesh_lib.is_writer(),
                     located=teacher_lib.located(workdir))
    if setup.teacher is not None:
      teacher_lib.pin(workdir, setup.teacher, write=mesh_lib.is_writer())
    return run_members(config, setup, [Member(config.seed, None, workdir)], workdir)[0]


def _say_missing_points(members: list[Member], run, start: int) -> None:
  """A resumed run whose trajectory lost points says so at once: it saves only later ones."""
  expected = trajectory.expected_steps(run.trajectory_every_steps, run.num_steps, start)
  for m in members:
    missing = sorted(set(expected) - set(trajectory.saved_steps(m.workdir)))
    if missing:
      log.warning('%s: its trajectory lacks the points of steps %s (removed?); this run saves '
                  'only later ones, and students whose schedule reads the whole trajectory '
                  '(multiplier, auto) will refuse it. Retrain in a new --workdir to have them '
                  'all', m.workdir, missing if len(missing) <= 8 else
                  f'{missing[:4]} ... {missing[-2:]} ({len(missing)} in all)')


def run_members(config, setup: Setup, members: list[Member], state_dir: str) -> list[dict]:
  """Trains ``members`` (one: a plain run; several: vmapped) and returns each one's last record.

  The resumable state (stacked for several members) is checkpointed in ``state_dir``.
  """
  run = config_lib.run_section(config)
  num_steps = run.num_steps
  finished = _left_without_checkpoints(config, members, state_dir)
  if finished is not None:
    return finished
  # Workers (if any) start on the first chunk's data; nothing to undo if what follows fails.
  make_input, close_input = host_pool.make_chunk_input(
      setup.task, config.data, run.batch_size, config.loop.get('host_data_processes', 0))
  checkpoints = RunCheckpoints(state_dir)
  recorder = None
  try:
    state, step_keys, start = initial_state(setup, members, checkpoints)
    if start == num_steps:
      log.info('%s %s: finished already', config.method, state_dir)
    elif start:
      log.info('resuming %s from step %d in %s', config.method, start, state_dir)
    if start and run.trajectory_every_steps:
      _say_missing_points(members, run, start)
    name = f'{config.method} {state_dir}' + (f' ({len(members)} members)' if setup.stacked
                                              else '')
    recorder = Recorder(config, setup, members, checkpoints, start, name)
    if start == 0:
      recorder.evaluate(0, state)
    chunks = chunks_lib.Chunks(config, setup, len(members))
    teacher_stack = setup.teacher.stack if setup.teacher else None
    starts = jnp.asarray(setup.teacher.schedule.starts if setup.teacher else (0,), jnp.int32)
    every = [config.loop.chunk_steps] + recorder.eval_every
    switches = setup.switches()

    def inputs(begin: int):
      end = next_stop(begin, num_steps, every, switches)
      return end, chunks_lib.chunk_input(setup, members, begin, end, make_input)

    step = start
    upcoming = inputs(step) if step < num_steps else None
    with _stop_requests() as stop:
      while step < num_steps:
        end, chunk_input = upcoming
        state, chunk_metrics = chunks.for_step(step)(state, teacher_stack, starts, chunk_input,
                                                     step_keys, step)
        # Made while the device runs the chunk just dispatched (jax dispatch is asynchronous).
        upcoming = inputs(end) if end < num_steps else None
        recorder.add_chunk(chunk_metrics, end - step)
        step = end
        recorder.at(step, state)
        if stop and step < num_steps:
          # Params resume exactly; the train averages of the next eval cover only the steps
          # after this point (evals and checkpoints otherwise coincide).
          checkpoints.save(step, state)
          raise Interrupted(stop[0], step, state_dir)
  finally:
    close_input()
    checkpoints.close()
    if recorder is not None:
      recorder.close()
  return recorder.last
