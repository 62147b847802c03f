"""Runs ``python -m pdistill.main ARGS`` and SIGKILLs it at one named point of a run's life.

Usage: ``python tests/kill_points.py POINT -- MAIN_ARGS...``.  The SIGKILL matrix test
(test_engine_sigkill.py) starts this once per point, then reruns the plain command and checks
that the resumed run equals an uninterrupted one.  A point is a (function, call number, when)
triple: the run is killed just before or just after that call, or in the middle of it (a
metrics line half written, an Orbax save still in flight).
"""

import os
import signal
import sys

from pdistill.engine import recorder
from pdistill.metrics import log as metrics_log
from pdistill.metrics import tensorboard
from pdistill.storage import checkpoints, run_config, trajectory


def _kill():
  sys.stderr.flush()
  os.kill(os.getpid(), signal.SIGKILL)


def _torn_write(self, step, metrics):
  """Half a metrics line, flushed, as a kill inside ``write`` leaves it."""
  import json
  line = json.dumps({'step': int(step), **{k: float(v) for k, v in metrics.items()}})
  self._file.write(line[:len(line) // 2])
  self._file.flush()
  _kill()


def _in_flight(original):
  """The save dispatched (Orbax writes asynchronously on a thread), then killed at once."""
  def save(self, step, *args):
    original(self, step, *args)
    _kill()
  return save


def _finished(original):
  """The save dispatched and waited for (committed on disk), then killed."""
  def save(self, step, *args):
    original(self, step, *args)
    self._manager.wait_until_finished()
    _kill()
  return save


# name: (owner, attribute, call number that kills, how); 'before' kills before the call,
# 'after' after it returns; the others replace the call.
POINTS = {
    'config_written': (run_config, 'claim', 1, 'after'),
    'before_first_record': (metrics_log.MetricsLog, 'write', 1, 'before'),
    'mid_chunk': (recorder.Recorder, 'add_chunk', 3, 'before'),
    'metrics_torn': (metrics_log.MetricsLog, 'write', 4, _torn_write),
    'after_record': (metrics_log.MetricsLog, 'write', 5, 'after'),
    'tensorboard_write': (tensorboard.EventWriter, 'scalars', 6, 'before'),
    'trajectory_in_flight': (trajectory.TrajectoryWriter, 'save', 2, _in_flight),
    'trajectory_committed': (trajectory.TrajectoryWriter, 'save', 2, _finished),
    'checkpoint_in_flight': (checkpoints.RunCheckpoints, 'save', 1, _in_flight),
    'checkpoint_committed': (checkpoints.RunCheckpoints, 'save', 2, _finished),
    'checkpoint_rotation': (checkpoints.RunCheckpoints, 'save', 3, _in_flight),
    'final_checkpoint': (checkpoints.RunCheckpoints, 'save', 4, _finished),
}


def arm(point: str) -> None:
  """Arms ``point``: a name of ``POINTS``, or ``record=N`` (killed just after the Nth metrics
  record, for a multi-run command such as a pipeline)."""
  if point.startswith('record='):
    owner, name, at, how = metrics_log.MetricsLog, 'write', int(point[7:]), 'after'
  else:
    owner, name, at, how = POINTS[point]
  original = getattr(owner, name)
  calls = [0]

  def wrapped(*args, **kwargs):
    calls[0] += 1
    if calls[0] != at:
      return original(*args, **kwargs)
    if how == 'before':
      _kill()
    if how == 'after':
      result = original(*args, **kwargs)
      _kill()
      return result
    patched = how(original) if how in (_in_flight, _finished) else how
    return patched(*args, **kwargs)

  setattr(owner, name, wrapped)


if __name__ == '__main__':
  point, sep, *main_args = sys.argv[1:]
  assert sep == '--', 'usage: kill_points.py POINT -- MAIN_ARGS...'
  arm(point)
  from pdistill import main
  sys.argv = ['pdistill.main', *main_args]
  main.run()
  sys.exit(f'{point}: the run ended without reaching its kill point')
