"""The parity correlation probe against values computed by hand on tiny inputs."""

import itertools

import numpy as np
import pytest

from pdistill.probes import parity_correlations as pc
from pdistill.train import train_and_evaluate
from tiny_configs import load_config_module


def all_points(n):
  return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def test_correlations_by_hand():
  x = all_points(3)  # the 8 points of {-1,+1}^3, so expectations are exact
  f = np.array([0.9, 0.1, 0.2, 0.3, 0.5, 0.5, 0.0, 1.0])
  # E[x0 f]: x0 = -1 on the first four points, +1 on the last four.
  e_x0 = (-(0.9 + 0.1 + 0.2 + 0.3) + (0.5 + 0.5 + 0.0 + 1.0)) / 8
  # E[x1 x2 f]: x1*x2 = +1, -1, -1, +1 repeating.
  e_x12 = (0.9 - 0.1 - 0.2 + 0.3 + 0.5 - 0.5 - 0.0 + 1.0) / 8
  np.testing.assert_allclose(pc.correlations(x, f, [(0,), (1, 2)]), [abs(e_x0), abs(e_x12)])


def test_a_perfect_parity_model_correlates_only_with_the_full_support():
  x = all_points(4)
  f = (np.prod(x[:, :3], axis=1) < 0).astype(float)  # P(class 1) of a perfect k=3 model
  sets, labels = pc.monomials((0, 1, 2), n=4, num_off_support=5)
  values = dict(zip(sets, pc.correlations(x, f, sets)))
  assert values[(0, 1, 2)] == 0.5  # E[chi_T * (1 - chi_T)/2] = -1/2
  assert all(v == 0 for s, v in values.items() if s != (0, 1, 2))


def test_monomial_sets():
  sets, labels = pc.monomials((0, 1, 2), n=10, num_off_support=20, seed=1)
  assert sets[:7] == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
  assert labels[:7] == ['in:1'] * 3 + ['in:2'] * 3 + ['in:3']
  off = sets[7:]
  assert len(off) == 20 == len(set(off)) and all(not set(s) <= {0, 1, 2} for s in off)
  assert pc.summarize(np.arange(27.0), labels)['in:1'] == 1.0
  assert pc.monomials((0, 1), n=2, num_off_support=5)[0] == [(0,), (1,), (0, 1)]


@pytest.mark.slow
def test_trajectory_of_a_transformer_teacher_shows_the_learned_parity(tmp_path):
  """The probe feeds a transformer its inputs as tokens and reads the last position."""
  c = load_config_module('parity_transformer').get_config('teacher,smoke')  # n=10, k=2
  c.teacher.update(num_steps=500, trajectory_every_steps=250)
  c.loop.update(eval_every_steps=250, log_every_secs=1e9, num_devices=1)
  train_and_evaluate(c, str(tmp_path))
  rows = pc.trajectory_correlations(str(tmp_path), num_off_support=20, examples=4096)
  assert [r[0] for r in rows] == [0, 250, 500]
  step, accuracy, final = rows[-1]
  assert accuracy > 0.99
  # A perfect model has P(class 1) = (1 - chi_T) / 2: |E[chi_T f]| = 1/2, nothing else.
  assert final['in:2'] > 0.45 and final['in:1'] < 0.05 and final['off'] < 0.05
  assert rows[0][2]['in:2'] < 0.1


def test_spike_figure_is_a_png(tmp_path):
  rows = [(0, 0.5, {'in:1': 0.01, 'in:2': 0.002, 'off': 0.005}),
          (100, 1.0, {'in:1': 0.004, 'in:2': 0.5, 'off': 0.004})]
  out = pc.plot_spike(rows, str(tmp_path / 'sub' / 'spike.png'))
  with open(out, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
