"""Training that crashes mid-run and is rerun: the resume tests' shared setup."""

import pytest

from pdistill.metrics import log as metrics_log
from pdistill.train import train_and_evaluate


def crash_at(config, workdir: str, monkeypatch, crash_step: int = 750) -> None:
  """Trains until the eval at ``crash_step`` raises, as a crash would."""
  original = metrics_log.MetricsLog.write

  def crash(self, step, metrics):
    if step == crash_step:
      raise RuntimeError('simulated crash')
    original(self, step, metrics)

  monkeypatch.setattr(metrics_log.MetricsLog, 'write', crash)
  with pytest.raises(RuntimeError, match='simulated crash'):
    train_and_evaluate(config, workdir)
  monkeypatch.setattr(metrics_log.MetricsLog, 'write', original)


def crash_then_resume(config, workdir: str, monkeypatch, crash_step: int = 750) -> None:
  """Trains until the eval at ``crash_step`` raises (as a crash would), then reruns the run."""
  crash_at(config, workdir, monkeypatch, crash_step)
  train_and_evaluate(config, workdir)
