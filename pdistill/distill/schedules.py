"""Which teacher checkpoint (or curriculum stage) a student uses at each step.

A schedule is a list of positions; position j is used from student step ``starts[j]``
(``starts[0] == 0``, strictly increasing) until the next start.  For a teacher schedule,
position j uses teacher checkpoint ``teacher_steps[j]``: the selected checkpoints are stacked
into one pytree with the position as leading axis, and the position of a step is computed inside
jit, so changing teacher never recompiles or reads disk.  Curriculum stages use the same rule.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Sequence

@dataclasses.dataclass(frozen=True)
class TeacherSchedule:
  teacher_steps: tuple[int, ...]
  starts: tuple[int, ...]

  def __post_init__(self):
    if len(self.teacher_steps) != len(self.starts) or not self.starts or self.starts[0] != 0:
      raise ValueError(f'bad schedule {self}')
    if any(b <= a for a, b in zip(self.starts, self.starts[1:])):
      raise ValueError(f'schedule starts must increase strictly: {self.starts}')

  def position(self, step: int) -> int:
    return position(self.starts, step)


def starts_from_lengths(lengths: Sequence[int]) -> list[int]:
  """Start steps of positions used for ``lengths`` steps each, then a last one to the end."""
  starts = [0]
  for n in lengths:
    starts.append(starts[-1] + int(n))
  return starts


def position(starts: Sequence[int], step: int) -> int:
  """The position in use at ``step`` (host side; ``steps.position_in_jit`` is its twin)."""
  return sum(step >= s for s in starts) - 1


def one_shot(final_step: int) -> TeacherSchedule:
  return TeacherSchedule((final_step,), (0,))


def manual_lengths_error(checkpoints: Sequence[int],
                         steps_per_checkpoint: Sequence[int]) -> str | None:
  """Why ``steps_per_checkpoint`` does not fit ``checkpoints`` (one entry per checkpoint but
  the last, which runs to the end), or None."""
  if len(steps_per_checkpoint) == len(checkpoints) - 1:
    return None
  return (f'needs one entry per checkpoint except the last ({len(checkpoints) - 1}), got '
          f'{tuple(steps_per_checkpoint)!r}')


def manual(checkpoints: Sequence[int], steps_per_checkpoint: Sequence[int],
           final_step: int) -> TeacherSchedule:
  """The paper's (N, T) schedules: checkpoint i for steps_per_checkpoint[i] steps, the last till the end.

  -1 in ``checkpoints`` stands for the teacher's final checkpoint.
  """
  problem = manual_lengths_error(checkpoints, steps_per_checkpoint)
  if problem:
    raise ValueError(problem)
  steps = tuple(final_step if c == -1 else int(c) for c in checkpoints)
  return TeacherSchedule(steps, tuple(starts_from_lengths(steps_per_checkpoint)))


def multiplier_rule(saved_steps: Sequence[int], multiplier: float,
                    num_student_steps: int) -> TeacherSchedule:
  """The reference's rule: at student step s use the first saved checkpoint at or after s * multiplier.

  Past the last saved checkpoint the final one stays in use.  Only checkpoints that some student
  step actually selects are kept.
  """
  m = Fraction(multiplier).limit_denominator(10**6)
  saved = sorted(saved_steps)
  steps, starts = [], []
  for i, t in enumerate(saved):
    # Checkpoint i serves s with saved[i-1] < s*m <= saved[i]; it starts at the least such s.
    start = 0 if i == 0 else math.floor(Fraction(saved[i - 1]) / m) + 1
    if start >= num_student_steps:
      break
    if steps and start <= starts[-1]:  # an earlier checkpoint served no step: replace it
      steps.pop(), starts.pop()
    steps.append(t)
    starts.append(start)
  return TeacherSchedule(tuple(steps), tuple(starts))
