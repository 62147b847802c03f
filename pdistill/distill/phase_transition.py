"""Locates a teacher's phase transition in its trajectory metrics and proposes checkpoints.

The transition is the stretch where the (lightly smoothed) eval curve makes most of its total
change: from where it first passes 10% of the way from its starting level to its final level, to
where it passes 90%. The starting level is the flat start, not the random initialisation: saved
steps before the first interval that changes the curve by less than an average interval does are
the initial fit of the easy statistics (a masked LM's token frequencies, in the first few dozen
steps), a phase of its own that precedes the plateau. The steepest point is the largest single
rise between saved checkpoints. For ``points`` intermediate checkpoints the proposal takes the
saved steps where the curve first reaches 1/(points+1), 2/(points+1), ... of the rise: one point
= the middle; ``at`` gives those fractions of the rise instead (e.g. 0.3 and 0.6), so that a
schedule is written relative to the teacher's own transition, wherever it happens.
``schedule.kind=auto`` builds a progressive schedule from that proposal.

A rise counts only when it stands out of the curve's noise: the final point must beat the first
by ``SIGNIFICANT`` noise levels, where the noise level is the larger of what the curve's own
second differences show (robust to a trend and to one jump; read from 8 points or more) and,
for an accuracy over one label per eval example, the binomial spread of an accuracy measured on
that many labels.  The flat start is skipped only when the main rise is still ahead of it (a
curve rising from its first point on is all transition).
A curve flat within its noise (a teacher that did not learn), or one that rose within its first
interval (a teacher that learned before its second saved point) has no transition to find:
``NoTransition`` says which.

  python -m pdistill.distill.phase_transition runs/teacher [--points 1] [--metric eval_accuracy]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Sequence

import numpy as np

from pdistill.data import tasks
from pdistill.storage import run_config, trajectory

RISING = {'eval_accuracy': True, 'eval_loss': False, 'train_accuracy': True,
          'train_loss': False}


SIGNIFICANT = 6.0  # noise levels the final point must beat the first by
JITTER_POINTS = 8  # saved points needed to read a curve's jitter from it


class NoTransition(ValueError):
  """The curve shows no transition to locate; ``learned`` tells whether it rose at all."""

  def __init__(self, message: str, learned: bool):
    super().__init__(message)
    self.learned = learned


@dataclasses.dataclass
class Transition:
  start: int  # first saved step at 10% of the rise
  end: int  # first saved step at 90% of the rise
  steepest: int  # saved step ending the largest single rise
  proposed: list[int]  # intermediate checkpoints for a progressive schedule


def flat_start(values) -> int:
  """Index of the first saved step whose next interval changes the curve less than on average."""
  values = np.asarray(values, np.float64)
  change = np.abs(np.diff(values))
  slow = change < abs(values[-1] - values[0]) / len(change)
  first = int(np.argmax(slow)) if slow.any() else 0
  return min(first, len(values) - 3)  # keep enough of the curve to smooth and locate


def noise_level(values, eval_size: int | None = None, accuracy: bool = False) -> float:
  """The spread of one point of an eval curve (see the module docstring)."""
  values = np.asarray(values, np.float64)
  # For independent noise of spread s, |second difference| has median 0.6745 * sqrt(6) s.
  # Fewer points than JITTER_POINTS are mostly curvature, not jitter: their second differences
  # say nothing about the noise.
  level = (float(np.median(np.abs(np.diff(values, 2)))) / 1.652
           if len(values) >= JITTER_POINTS else 0.0)
  if accuracy and eval_size:
    p = min(max(abs(values[0]), 1 / eval_size), 1 - 1 / eval_size)
    level = max(level, float(np.sqrt(p * (1 - p) / eval_size)))
  return level


def _range_text(steps, values, sign: float) -> str:
  shown = np.asarray(values) * sign
  return (f'{shown.min():.4g}..{shown.max():.4g} over its {len(steps)} saved points '
          f'(steps {int(steps[0])}..{int(steps[-1])})')


def find(steps, values, points: int = 1, rising: bool = True, smooth: int = 3,
         eval_size: int | None = None, metric: str = 'eval_accuracy',
         at: Sequence[float] = ()) -> Transition:
  """The transition of the curve ``values`` at ``steps``; NoTransition if it shows none."""
  sign = 1.0 if rising else -1.0
  steps = np.asarray(steps)
  values = np.asarray(values, np.float64) * sign
  if len(steps) < 3:
    raise NoTransition(f'need at least 3 saved points to find a transition, got '
                       f'{len(steps)}; save them more often (teacher.trajectory_every_steps)',
                       learned=True)
  bad = np.flatnonzero(~np.isfinite(values))
  if bad.size:
    raise NoTransition(f'{metric} is not finite at step {int(steps[bad[0]])} (the teacher '
                       'diverged); distil from a teacher whose curve is finite', learned=False)
  noise = noise_level(values, eval_size, metric.endswith('accuracy'))
  needed = max(SIGNIFICANT * noise, 0.01 * abs(values[0]), 1e-9)
  if values[-1] - values[0] < needed:
    raise NoTransition(f'{metric} stays within its noise: {_range_text(steps, values, sign)}; '
                       f'the final point must beat the first by {needed:.3g} ({SIGNIFICANT:g} '
                       f'noise levels of {noise:.2g}). The teacher did not learn: train one '
                       'that does (another seed, more steps), or give a manual schedule',
                       learned=False)
  start = flat_start(values)
  if values[-1] - values[start] < needed and start >= 2:
    start = 0  # a rise over several points from the start, with no plateau: all of it counts
  if values[-1] - values[start] < needed:  # all of it within the first interval
    raise NoTransition(f'{metric} went from {values[0] * sign:.4g} at step {int(steps[0])} to '
                       f'{values[start] * sign:.4g} by step {int(steps[start])} and stays '
                       'within its noise after that: the teacher learned before its saved '
                       'points can show; save them more often (teacher.trajectory_every_steps)'
                       ', or give a manual schedule', learned=True)
  steps, values = steps[start:], values[start:]
  if smooth > 1:  # moving average; edges use the available neighbours
    kernel = np.ones(smooth)
    values = (np.convolve(values, kernel, 'same') /
              np.convolve(np.ones_like(values), kernel, 'same'))
  low, high = values[0], values[-1]
  progress = (values - low) / (high - low)

  def first_at(fraction):
    return int(steps[np.argmax(progress >= fraction)])

  fractions = tuple(at) or tuple(i / (points + 1) for i in range(1, points + 1))
  proposed = sorted({first_at(f) for f in fractions})
  steepest = int(steps[1:][np.argmax(np.diff(values))])
  return Transition(first_at(0.1), first_at(0.9), steepest, proposed)


def find_in_trajectory(workdir: str, points: int = 1, metric: str = 'eval_accuracy',
                       last_step: int | None = None, at: Sequence[float] = ()):
  """The transition in ``workdir``'s trajectory (up to ``last_step``, by default all of it)."""
  rows = [r for r in trajectory.read_metrics(workdir)
          if metric in r and (last_step is None or r['step'] <= last_step)]
  if not rows:
    raise NoTransition(f'the trajectory in {workdir} has no {metric!r} metrics', learned=False)
  saved = run_config.read(workdir) or {}
  try:
    return find([r['step'] for r in rows], [r[metric] for r in rows], points,
                RISING.get(metric, True), eval_size=tasks.eval_labels(saved.get('data', {})),
                metric=metric, at=at)
  except NoTransition as e:
    raise NoTransition(f'the teacher in {workdir}: {e}', e.learned) from None


def did_not_learn(workdir: str, metric: str = 'eval_accuracy') -> str | None:
  """Why the teacher in ``workdir`` taught nothing (its curve flat within its noise), or None."""
  try:
    find_in_trajectory(workdir, 1, metric)
  except NoTransition as e:
    return None if e.learned else str(e)
  return None


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('workdir')
  parser.add_argument('--points', type=int, default=1)
  parser.add_argument('--at', default='', help='fractions of the rise, e.g. 0.3,0.6 '
                      '(instead of --points)')
  parser.add_argument('--metric', default='eval_accuracy', choices=sorted(RISING))
  args = parser.parse_args(argv)
  if not trajectory.exists(args.workdir):
    print(f'error: no trajectory in {args.workdir}', file=sys.stderr)
    return 2
  try:
    at = tuple(float(x) for x in args.at.split(',') if x)
    t = find_in_trajectory(args.workdir, args.points, args.metric, at=at)
  except NoTransition as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'transition: steps {t.start}..{t.end} (steepest rise ending at {t.steepest})')
  print(f'proposed intermediate checkpoints: {t.proposed}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
