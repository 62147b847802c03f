import numpy as np
import pytest

from pdistill.storage import digest, trajectory


def params_at(step):
  return {'Dense_0': {'kernel': np.full((3, 2), step, np.float32),
                      'bias': np.arange(2, dtype=np.float32) + step}}


def test_trajectory_round_trips_through_orbax(tmp_path):
  writer = trajectory.TrajectoryWriter(str(tmp_path))
  for step in (0, 10, 20):
    writer.save(step, params_at(step), {'eval_accuracy': step / 100, 'eval_loss': 1 - step / 100})
  writer.save(10, params_at(999), {'eval_accuracy': 0.0})  # a rerun keeps the stored one
  writer.close()

  assert trajectory.saved_steps(str(tmp_path)) == [0, 10, 20]
  rows = trajectory.read_metrics(str(tmp_path))
  assert [r['step'] for r in rows] == [0, 10, 20]
  np.testing.assert_allclose([r['eval_accuracy'] for r in rows], [0, 0.1, 0.2])

  abstract = {'params': params_at(0)}
  stacked = trajectory.load_stacked(str(tmp_path), [20, 0, 10], abstract)['params']
  np.testing.assert_array_equal(stacked['Dense_0']['kernel'][:, 0, 0], [20, 0, 10])
  np.testing.assert_array_equal(stacked['Dense_0']['bias'][1], [0, 1])
  assert 'eval_accuracy' in trajectory.format_table(rows)


def test_a_model_state_travels_with_its_params(tmp_path):
  stats = lambda step: {'batch_stats': {'BatchNorm_0': {'mean': np.full(2, step, np.float32),
                                                        'var': np.ones(2, np.float32)}}}
  writer = trajectory.TrajectoryWriter(str(tmp_path))
  for step in (0, 10):
    writer.save(step, params_at(step), {'eval_accuracy': 0.5}, stats(step))
  writer.close()
  abstract = {'params': params_at(0), **stats(0)}
  stacked = trajectory.load_stacked(str(tmp_path), [10, 0], abstract)
  np.testing.assert_array_equal(stacked['batch_stats']['BatchNorm_0']['mean'][:, 0], [10, 0])
  np.testing.assert_array_equal(stacked['params']['Dense_0']['kernel'][:, 0, 0], [10, 0])
  one = trajectory.load_variables(str(tmp_path), 10, abstract)
  np.testing.assert_array_equal(one['batch_stats']['BatchNorm_0']['mean'], [10, 10])


def test_trajectory_cli_lists_checkpoints(tmp_path, capsys):
  writer = trajectory.TrajectoryWriter(str(tmp_path))
  writer.save(5, params_at(5), {'eval_accuracy': 0.5})
  writer.close()
  assert trajectory.main([str(tmp_path)]) == 0
  out = capsys.readouterr().out.splitlines()
  assert out[0].split('\t') == ['step', 'eval_accuracy'] and out[1].split('\t') == ['5', '0.5']
  assert trajectory.main([str(tmp_path / 'nope')]) == 2


def test_digest_ignores_containers_and_sees_one_changed_value():
  a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.int32)
  assert digest.of({'params': a, 'step': b}) == digest.of((b, [a]))
  changed = a.copy()
  changed[1, 2] = np.nextafter(changed[1, 2], np.inf)
  assert digest.of({'params': changed, 'step': b}) != digest.of({'params': a, 'step': b})
  with pytest.raises(digest.CorruptCheckpoint, match='run step 3: its content does not match'):
    digest.verify({'params': changed}, digest.of({'params': a}), 'run step 3')
