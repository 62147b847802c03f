"""What a person reads: TensorBoard event files, the comparison plot and table."""

import json
import os

import numpy as np
import pytest

from pdistill.metrics import log as metrics_log
from pdistill.metrics import plot, tensorboard
from pdistill.metrics.log import MetricsLog


def test_crc32c_known_value():
  # RFC 3720 test vector: 32 bytes of zeros.
  assert tensorboard.crc32c(bytes(32)) == 0x8A9136AA
  assert tensorboard.crc32c(b'123456789') == 0xE3069283


def test_tensorboard_reads_our_event_files(tmp_path):
  event_accumulator = pytest.importorskip(
      'tensorboard.backend.event_processing.event_accumulator')
  log = MetricsLog(str(tmp_path), resume_step=0)
  for step in (0, 10, 20):
    log.write(step, {'eval_accuracy': step / 40, 'train_loss': 1.0 / (step + 1)})
  log.close()
  acc = event_accumulator.EventAccumulator(str(tmp_path / 'tensorboard'))
  acc.Reload()
  assert set(acc.Tags()['scalars']) == {'eval_accuracy', 'train_loss'}
  events = acc.Scalars('eval_accuracy')
  assert [e.step for e in events] == [0, 10, 20]
  np.testing.assert_allclose([e.value for e in events], [0, 0.25, 0.5])


def test_metrics_log_drops_records_past_the_resume_step(tmp_path):
  log = MetricsLog(str(tmp_path), resume_step=0)
  for step in (0, 10, 20, 30):
    log.write(step, {'eval_accuracy': 0.5})
  log.close()
  MetricsLog(str(tmp_path), resume_step=10).close()
  with open(tmp_path / 'metrics.jsonl') as f:
    assert [json.loads(line)['step'] for line in f] == [0, 10]


def test_a_fresh_start_drops_the_step_0_record_of_an_attempt_killed_before_a_checkpoint(
    tmp_path):
  log = MetricsLog(str(tmp_path), resume_step=0)
  log.write(0, {'eval_accuracy': 0.5})  # then SIGKILL: no checkpoint, so the rerun starts at 0
  log.close()
  log = MetricsLog(str(tmp_path), resume_step=0)
  log.write(0, {'eval_accuracy': 0.5})
  log.close()
  assert [r['step'] for r in metrics_log.read(str(tmp_path))] == [0]


def test_a_cut_off_last_line_is_skipped_and_dropped_on_resume(tmp_path):
  path = tmp_path / 'metrics.jsonl'
  path.write_text('{"step": 0, "eval_accuracy": 0.5}\n{"step": 10, "eval_acc')
  assert metrics_log.read(str(tmp_path)) == [{'step': 0, 'eval_accuracy': 0.5}]
  log = MetricsLog(str(tmp_path), resume_step=10)
  log.write(20, {'eval_accuracy': 0.7})
  log.close()
  assert [r['step'] for r in metrics_log.read(str(tmp_path))] == [0, 20]
  path.write_text('{"step": 0}\nnot json\n{"step": 10}\n')  # damage inside: refused, named
  with pytest.raises(ValueError, match='metrics.jsonl: line 2 is not a JSON record'):
    metrics_log.read(str(tmp_path))


def fake_run(path, curve):
  log = MetricsLog(str(path), resume_step=0)
  for step, acc in enumerate(curve):
    log.write(step * 100, {'eval_accuracy': acc})
  log.close()
  return str(path)


def test_comparison_plot_and_table(tmp_path):
  runs = {'ce': [fake_run(tmp_path / 'a', [0.5, 0.5, 0.6]), fake_run(tmp_path / 'b', [0.5, 0.7, 1.0])],
          'progressive': [fake_run(tmp_path / 'c', [0.5, 1.0, 1.0])]}
  out = plot.plot_comparison(runs, str(tmp_path / 'fig.png'), teacher_workdir=runs['ce'][0])
  with open(out, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  table = plot.accuracy_table(runs, [100, 200])
  assert '| ce | 2 | 0.600 ± 0.100 | 0.800 ± 0.200 |' in table
  assert '| progressive | 1 | 1.000 ± 0.000 | 1.000 ± 0.000 |' in table
  assert plot.main(['--out', str(tmp_path / 'cli.png'), f'ce={runs["ce"][0]},{runs["ce"][1]}']) == 0
  assert os.path.exists(tmp_path / 'cli.png')


def test_first_reach_table_per_seed_median_and_teacher(tmp_path):
  # fake_run evaluates at steps 0, 100, 200, ...
  runs = {'ce': [fake_run(tmp_path / 'ce0' / 'seed_0', [0.5, 0.5, 0.995]),
                 fake_run(tmp_path / 'ce1' / 'seed_1', [0.5, 0.5, 0.9]),
                 fake_run(tmp_path / 'ce2' / 'seed_2', [0.5, 1.0, 1.0])],
          'progressive': [fake_run(tmp_path / 'p0' / 'seed_0', [0.99, 1.0, 1.0]),
                          fake_run(tmp_path / 'p1' / 'seed_1', [0.5, 0.99, 1.0]),
                          fake_run(tmp_path / 'p2' / 'seed_2', [0.5, 0.98, 1.0])]}
  teacher = fake_run(tmp_path / 'teacher', [0.5, 0.5, 0.5, 1.0])
  assert plot.first_reach(runs['ce'][1], 0.99) is None
  table = plot.first_reach_table(runs, 0.99, teacher_workdir=teacher).splitlines()
  assert table[0] == '| method | seed_0 | seed_1 | seed_2 | median | teacher |'
  # A seed that never reaches it sorts last, so ce's median is its slower learner.
  assert table[2] == '| ce | 200 | — | 100 | 200 | 300 |'
  assert table[3] == '| progressive | 0 | 100 | 200 | 100 | 300 |'


def test_a_run_without_metrics_is_left_out_of_the_comparison(tmp_path, caplog):
  runs = {'ce': [fake_run(tmp_path / 'a', [0.5, 0.9]), str(tmp_path / 'lost')],
          'one_shot': [str(tmp_path / 'lost2')]}
  os.makedirs(tmp_path / 'lost')
  out = plot.plot_comparison(runs, str(tmp_path / 'fig.png'), teacher_workdir=runs['ce'][0])
  assert os.path.exists(out)
  table = plot.accuracy_table(runs, [100])
  assert '| ce | 1 | 0.900 ± 0.000 |' in table and 'one_shot' not in table
  assert f'{tmp_path / "lost"} has no eval_accuracy records' in caplog.text


def test_a_diverged_seed_is_marked_not_averaged(tmp_path):
  healthy = fake_run(tmp_path / 'a', [0.5, 0.9, 1.0])
  log = MetricsLog(str(tmp_path / 'b'), resume_step=0)
  for step, (acc, loss) in enumerate([(0.5, 0.7), (0.6, 0.5), (0.486, float('nan'))]):
    log.write(step * 100, {'eval_accuracy': acc, 'eval_loss': loss})
  log.close()
  table = plot.accuracy_table({'ce': [healthy, str(tmp_path / 'b')]}, [100, 200])
  assert '| ce | 2 | 0.750 ± 0.150 | 1.000 ± 0.000 (1 diverged) |' in table
