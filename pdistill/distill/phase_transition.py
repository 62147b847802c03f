"""Locates a teacher's phase transition in its trajectory metrics and proposes checkpoints.

The transition is the stretch where the (lightly smoothed) eval curve makes most of its total
change: from where it first passes 10% of the way from its starting level to its final level, to
where it passes 90%. The starting level is the flat start, not the random initialisation: saved
steps before the first interval that changes the curve by less than an average interval does are
the initial fit of the easy statistics (a masked LM's token frequencies, in the first few dozen
steps), a phase of its own that precedes the plateau. The steepest point is the largest single
rise between saved checkpoints. For ``points`` intermediate checkpoints the proposal takes the
saved steps where the curve first reaches 1/(points+1), 2/(points+1), ... of the rise: one point
= the middle. ``schedule.kind=auto`` builds a progressive schedule from that proposal.

  python -m pdistill.distill.phase_transition runs/teacher [--points 1] [--metric eval_accuracy]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from pdistill.storage import trajectory

RISING = {'eval_accuracy': True, 'eval_loss': False, 'train_accuracy': True,
          'train_loss': False}


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


def find(steps, values, points: int = 1, rising: bool = True, smooth: int = 3) -> Transition:
  steps = np.asarray(steps)
  values = np.asarray(values, np.float64) * (1 if rising else -1)
  if len(steps) < 3:
    raise ValueError(f'need at least 3 saved checkpoints to find a transition, got {len(steps)}')
  start = flat_start(values)
  steps, values = steps[start:], values[start:]
  if smooth > 1:  # moving average; edges use the available neighbours
    kernel = np.ones(smooth)
    values = (np.convolve(values, kernel, 'same') /
              np.convolve(np.ones_like(values), kernel, 'same'))
  low, high = values[0], values[-1]
  if high - low <= 1e-9:
    raise ValueError('the metric does not improve over the trajectory: no transition to find')
  progress = (values - low) / (high - low)

  def first_at(fraction):
    return int(steps[np.argmax(progress >= fraction)])

  proposed = sorted({first_at(i / (points + 1)) for i in range(1, points + 1)})
  steepest = int(steps[1:][np.argmax(np.diff(values))])
  return Transition(first_at(0.1), first_at(0.9), steepest, proposed)


def find_in_trajectory(workdir: str, points: int = 1, metric: str = 'eval_accuracy',
                       last_step: int | None = None):
  """The transition in ``workdir``'s trajectory (up to ``last_step``, by default all of it)."""
  rows = [r for r in trajectory.read_metrics(workdir)
          if metric in r and (last_step is None or r['step'] <= last_step)]
  if not rows:
    raise ValueError(f'the trajectory in {workdir} has no {metric!r} metrics')
  return find([r['step'] for r in rows], [r[metric] for r in rows], points,
              RISING.get(metric, True))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('workdir')
  parser.add_argument('--points', type=int, default=1)
  parser.add_argument('--metric', default='eval_accuracy', choices=sorted(RISING))
  args = parser.parse_args(argv)
  t = find_in_trajectory(args.workdir, args.points, args.metric)
  print(f'transition: steps {t.start}..{t.end} (steepest rise ending at {t.steepest})')
  print(f'proposed intermediate checkpoints: {t.proposed}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
