"""The (2, T) sweep's results read back from a pipeline's progressive_C_T folders."""

from pdistill.metrics.log import MetricsLog
from pdistill.probes import pcfg_phases


def fake_run(path, final):
  log = MetricsLog(str(path), resume_step=0)
  log.write(0, {'eval_accuracy': 0.3})
  log.write(100, {'eval_accuracy': final})
  log.close()


def test_sweep_results_group_seeds_by_first_checkpoint_and_t(tmp_path):
  fake_run(tmp_path / 'progressive_400_200' / 'seed_0', 0.8)
  fake_run(tmp_path / 'progressive_400_200' / 'seed_1', 0.9)
  fake_run(tmp_path / 'progressive_800_200' / 'seed_0', 0.7)
  fake_run(tmp_path / 'progressive_auto' / 'seed_0', 0.1)  # not a (2, T) run
  fake_run(tmp_path / 'one_shot' / 'seed_0', 0.6)
  results, one_shot = pcfg_phases.sweep_results(str(tmp_path))
  assert results == {(400, 200): [0.8, 0.9], (800, 200): [0.7]}
  assert one_shot == [0.6]
