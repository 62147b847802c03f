"""The parity correlation probe against values computed by hand on tiny inputs."""

import itertools

import numpy as np

from pdistill.probes import parity_correlations as pc


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
