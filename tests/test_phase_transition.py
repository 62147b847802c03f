"""Locating a teacher's phase transition and the automatic progressive schedule."""

import os

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
  with pytest.raises(phase_transition.NoTransition, match='stays within its noise'):
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


def test_noise_is_no_transition():
  # A teacher at chance: eval accuracy on 512 examples wanders within binomial noise.
  rng = np.random.default_rng(0)
  steps = np.arange(0, 3001, 100)
  acc = rng.binomial(512, 0.5, len(steps)) / 512
  with pytest.raises(phase_transition.NoTransition, match='did not learn') as e:
    phase_transition.find(steps, acc, eval_size=512)
  assert not e.value.learned
  # The same curve with a real rise in it is found.
  acc[16:] = 0.999
  assert phase_transition.find(steps, acc, eval_size=512).proposed == [1600]


def test_a_teacher_that_learned_before_its_second_point():
  steps = np.arange(0, 1001, 100)
  acc = np.r_[0.5, np.full(10, 1.0)]
  with pytest.raises(phase_transition.NoTransition, match='learned before') as e:
    phase_transition.find(steps, acc, eval_size=512)
  assert e.value.learned


def test_a_diverged_curve_is_named():
  with pytest.raises(phase_transition.NoTransition, match='not finite at step 200'):
    phase_transition.find([0, 100, 200, 300], [0.5, 0.6, np.nan, 0.5])


@pytest.fixture(scope='module')
def stuck_teacher(tmp_path_factory):
  """A teacher whose learning rate is too small to leave chance."""
  workdir = str(tmp_path_factory.mktemp('stuck'))
  c = tiny('teacher')
  c.teacher.optim.learning_rate = 1e-9
  c.teacher.num_steps = 1_000
  train_and_evaluate(c, workdir)
  return workdir


def test_auto_schedule_refuses_a_teacher_that_did_not_learn(stuck_teacher, tmp_path, capsys):
  c = tiny('progressive')
  c.student.teacher_workdir = stuck_teacher
  c.student.schedule.update(kind='auto', steps_per_checkpoint=(250,))
  with pytest.raises(ConfigError, match='student.schedule.kind: auto: .*did not learn'):
    train_and_evaluate(c, str(tmp_path / 'student'))
  assert phase_transition.main([stuck_teacher]) == 2
  assert 'did not learn' in capsys.readouterr().err


def test_a_pipeline_stops_after_a_teacher_that_did_not_learn(stuck_teacher, tmp_path):
  c = tiny('pipeline')
  c.student.teacher_workdir = stuck_teacher
  c.pipeline_methods = ('ce',)
  c.student.num_steps = 250
  with pytest.raises(ConfigError, match='pipeline_distil_unlearned_teacher: .*did not learn'):
    train_and_evaluate(c, str(tmp_path / 'refused'))
  assert not os.path.exists(tmp_path / 'refused' / 'ce')
  c.pipeline_distil_unlearned_teacher = True  # asked for
  assert sorted(train_and_evaluate(c, str(tmp_path / 'asked'))) == ['ce/seed_0']


def test_auto_schedule_lengths_must_leave_steps_for_the_final_teacher():
  c = tiny('progressive')
  c.student.teacher_workdir = '/t'
  c.student.schedule.update(kind='auto', steps_per_checkpoint=(30_000,))
  with pytest.raises(ConfigError, match='sums to 30000 >= student.num_steps=1000'):
    validate(c)


def test_a_relative_schedule_follows_each_teachers_own_transition():
  steps = np.arange(0, 3001, 100)
  for middle in (800, 2000):  # two teachers whose transitions differ
    acc = 0.5 + 0.5 / (1 + np.exp(-(steps - middle) / 60))
    t = phase_transition.find(steps, acc, smooth=1, eval_size=512, at=(0.3, 0.6))
    assert len(t.proposed) == 2 and t.start <= t.proposed[0] < t.proposed[1] <= t.end
    assert middle - 200 <= t.proposed[0] <= middle <= t.proposed[1] <= middle + 200


def test_auto_at_must_be_increasing_fractions_with_one_length_each():
  c = tiny('progressive')
  c.student.teacher_workdir = '/t'
  c.student.schedule.update(kind='auto', auto_at=(0.6, 0.3), steps_per_checkpoint=(100, 100))
  with pytest.raises(ConfigError, match='auto_at: must be increasing fractions'):
    validate(c)
  c.student.schedule.update(auto_at=(0.3, 0.6), steps_per_checkpoint=(100,))
  with pytest.raises(ConfigError, match=r'one positive entry per proposed checkpoint \(auto_at'):
    validate(c)
