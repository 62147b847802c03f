"""Locating a teacher's phase transition and the automatic progressive schedule."""

import numpy as np
import pytest

from pdistill.distill import phase_transition
from pdistill.config import ConfigError
from pdistill.metrics import log as metrics_log
from pdistill.validation import validate
from pdistill.train import train_and_evaluate
from tiny_configs import tiny


def test_finds_a_sigmoid_transition():
  steps = np.arange(0, 1001, 50)
  acc = 0.5 + 0.5 / (1 + np.exp(-(steps - 600) / 40))
  t = phase_transition.find(steps, acc, points=1, smooth=1)
  assert t.steepest in (600, 650) and t.proposed == [600]
  assert 450 <= t.start < 600 < t.end <= 750
  # On this grid the 25% and 50% points fall on the same saved step: proposals are deduplicated.
  assert phase_transition.find(steps, acc, points=3, smooth=1).proposed == [600, 650]


def test_falling_metric_and_flat_curve():
  steps = np.arange(10)
  loss = np.where(steps < 5, 1.0, 0.1)
  assert phase_transition.find(steps, loss, rising=False, smooth=1).proposed == [5]
  with pytest.raises(ValueError, match='does not improve'):
    phase_transition.find(steps, np.ones(10))


def test_initial_fit_before_the_flat_start_is_not_the_transition():
  # A masked LM's loss: token frequencies fitted within the first interval (2.1 -> 0.95), a
  # plateau, then the drop the paper's C1 sits in (half-way just before step 500).
  steps = np.arange(0, 1501, 100)
  loss = 0.95 - 0.3 / (1 + np.exp(-(steps - 480) / 60))
  loss[0] = 2.1
  t = phase_transition.find(steps, loss, rising=False, smooth=1)
  assert t.proposed == [500] and 300 <= t.start < 500 < t.end <= 700
  assert phase_transition.flat_start(loss) == 1
  assert phase_transition.flat_start(loss[1:]) == 0  # a curve that starts flat keeps its start


def test_auto_schedule_uses_the_proposed_checkpoint(tmp_path):
  teacher_dir = str(tmp_path / 'teacher')
  train_and_evaluate(tiny('teacher'), teacher_dir)
  proposal = phase_transition.find_in_trajectory(teacher_dir).proposed
  c = tiny('progressive')
  c.student.teacher_workdir = teacher_dir
  c.student.schedule.update(kind='auto', steps_per_checkpoint=(250,))
  train_and_evaluate(c, str(tmp_path / 'student'))
  used = [r['teacher_step'] for r in metrics_log.read(str(tmp_path / 'student'))[1:]]
  assert used == [proposal[0]] + [3000] * (len(used) - 1)


def test_auto_schedule_needs_one_length_per_point():
  c = tiny('progressive')
  c.student.teacher_workdir = '/t'
  c.student.schedule.update(kind='auto', auto_points=2, steps_per_checkpoint=(250,))
  with pytest.raises(ConfigError, match='config.student.schedule.steps_per_checkpoint: auto needs'):
    validate(c)
