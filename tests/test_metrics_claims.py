"""metrics.claims: claims over (teacher, student seed) pairs, with bootstrap intervals."""

import numpy as np

from pdistill.metrics import claims


def test_bootstrap_median_equals_a_numpy_computation():
  values = np.array([1.1, 0.9, 1.4, 2.0, 0.8, 1.2, np.inf])
  rng = np.random.default_rng(0)
  resampled = values[rng.integers(0, 7, (5_000, 7))]
  medians = np.sort(np.median(resampled, axis=1))
  expected = (np.median(values), medians[int(np.floor(0.025 * 4_999))],
              medians[int(np.ceil(0.975 * 4_999))])
  assert claims.bootstrap_median(values, resamples=5_000) == expected
  assert expected[1] < expected[0] < expected[2] < np.inf  # one never-reached pair of seven
  median, low, high = claims.bootstrap_median([2.0] * 5)
  assert median == low == high == 2.0


def test_claims_table_counts_pairs_and_compares_them_paired():
  teacher = {'teacher_0/seed_0': 1000, 'teacher_0/seed_1': 1000, 'teacher_1/seed_0': 2000,
             'teacher_1/seed_1': 2000, 'teacher_2/seed_0': None}
  firsts = {
      'ce': {'teacher_0/seed_0': 3000, 'teacher_0/seed_1': None, 'teacher_1/seed_0': None,
             'teacher_1/seed_1': 5000, 'teacher_2/seed_0': None},
      'progressive': {'teacher_0/seed_0': 1000, 'teacher_0/seed_1': 1500,
                      'teacher_1/seed_0': 2000, 'teacher_1/seed_1': 2500,
                      'teacher_2/seed_0': None},
  }
  table = claims.claims_table(firsts, teacher, 0.99)
  ce_median = claims.bootstrap_median([3.0, np.inf, np.inf, 2.5])
  assert f'| ce | 4 | 2 of 4 | {claims._fmt(ce_median[0])} [' in table
  assert '| progressive | 4 | 4 of 4 | 1.12 [' in table  # ratios 1, 1.5, 1, 1.25
  # progressive first on all 4 pairs; ratios 1/3, 0 (CE never), 0, 0.5
  assert '| progressive / ce | 4 | 4 of 4 | 0.17 [' in table
  assert "Left out: 1 pair(s) whose teacher never reached 99% (teacher_2/seed_0)." in table
