import jax
import numpy as np
import pytest

from pdistill.data import parity as parity_data


def reference_labels(x, supports, num_labels):
  """numpy port of the reference's boolean_data scoring (parity/utils.py)."""
  scores = np.zeros((len(x), num_labels))
  for i in range(num_labels):
    label = i + num_labels
    while label > 1:
      scores[:, i] += (1 - 2 * (label % 2)) * np.prod(x[:, list(supports[label // 2 - 1])], -1)
      label //= 2
  return scores.argmax(-1)


@pytest.mark.parametrize('num_labels', [2, 4, 8])
def test_labels_match_reference(num_labels):
  task = parity_data.make_task(n=30, k=3, num_labels=num_labels)
  batch = parity_data.sample(task, jax.random.key(1), 2000)
  x = np.asarray(batch['inputs'])
  assert set(np.unique(x)) == {-1.0, 1.0}
  np.testing.assert_array_equal(batch['labels'], reference_labels(x, task.supports, num_labels))


def test_binary_label_is_one_when_parity_is_minus_one():
  task = parity_data.make_task(n=10, k=3)
  batch = parity_data.sample(task, jax.random.key(0), 500)
  parity = np.prod(np.asarray(batch['inputs'])[:, :3], -1)
  np.testing.assert_array_equal(batch['labels'], (parity < 0).astype(int))
  assert 0.4 < np.mean(batch['labels']) < 0.6


def test_random_support_is_seeded_and_disjoint():
  a = parity_data.make_task(n=50, k=4, num_labels=4, support='random', support_seed=3)
  b = parity_data.make_task(n=50, k=4, num_labels=4, support='random', support_seed=3)
  c = parity_data.make_task(n=50, k=4, num_labels=4, support='random', support_seed=4)
  assert a.supports == b.supports != c.supports
  coords = [i for s in a.supports for i in s]
  assert len(set(coords)) == len(coords) == 12


def test_train_batch_is_a_pure_function_of_key_and_step():
  task = parity_data.make_task(n=16, k=2)
  key = jax.random.key(7)
  one = parity_data.train_batch(task, key, 41, 4)
  again = jax.jit(lambda s: parity_data.train_batch(task, key, s, 4))(41)
  other = parity_data.train_batch(task, key, 42, 4)
  np.testing.assert_array_equal(one['inputs'], again['inputs'])
  assert not np.array_equal(one['inputs'], other['inputs'])
