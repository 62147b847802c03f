"""The loop's restarts: a run never starts over silently, nor loses its history unsaid."""

import os
import shutil

import pytest

from pdistill.metrics import log as metrics_log
from pdistill.storage import checkpoints
from pdistill.storage.run_lock import WorkdirError
from pdistill.train import train_and_evaluate
from crash_resume import crash_at
from tiny_configs import tiny


def _small(method='teacher'):
  c = tiny(method)
  c.teacher.num_steps = 1_000
  return c


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('finished') / 'teacher')
  train_and_evaluate(_small(), workdir)
  return workdir


def test_a_finished_run_without_checkpoints_is_still_finished(finished, tmp_path, caplog):
  workdir = str(tmp_path / 'teacher')
  shutil.copytree(finished, workdir)
  shutil.rmtree(os.path.join(workdir, checkpoints.SUBDIR))  # removed to save disk
  before = metrics_log.read(workdir)
  with caplog.at_level('INFO', logger='pdistill'):
    final = train_and_evaluate(_small(), workdir)
  assert 'finished already (its checkpoints were removed' in caplog.text
  assert final['step'] == 1000 and metrics_log.read(workdir) == before
  assert not os.path.exists(os.path.join(workdir, checkpoints.SUBDIR))


def test_a_stopped_run_without_checkpoints_is_not_started_over(tmp_path, monkeypatch):
  workdir = str(tmp_path / 'teacher')
  crash_at(_small(), workdir, monkeypatch)  # stopped after its checkpoint 500
  shutil.rmtree(os.path.join(workdir, checkpoints.SUBDIR))
  before = metrics_log.read(workdir)
  with pytest.raises(WorkdirError, match=r'has no checkpoints/ but its run got to step 500.*'
                                         r'To start over on purpose, remove metrics.jsonl'):
    train_and_evaluate(_small(), workdir)
  assert metrics_log.read(workdir) == before


def test_a_resume_without_its_metrics_history_says_so(tmp_path, monkeypatch, caplog):
  workdir = str(tmp_path / 'teacher')
  crash_at(_small(), workdir, monkeypatch)
  os.remove(os.path.join(workdir, metrics_log.FILENAME))
  with caplog.at_level('WARNING', logger='pdistill'):
    train_and_evaluate(_small(), workdir)
  assert 'lacks the records before step 500 (the file is missing)' in caplog.text
  assert [r['step'] for r in metrics_log.read(workdir)][0] == 750


def test_a_model_too_large_for_memory_is_refused_before_the_workdir_is_claimed(tmp_path,
                                                                              monkeypatch):
  from pdistill.config import ConfigError
  from pdistill.parallel import mesh
  monkeypatch.setattr(mesh, 'free_bytes', lambda device=None: (2_000, 'a small device'))
  with pytest.raises(ConfigError, match=r'config.teacher.model: its params and optimizer state '
                                        r'\(1 member\(s\)\) take .* GiB free in a small device'):
    train_and_evaluate(_small(), str(tmp_path / 'teacher'))
  assert not os.path.exists(tmp_path / 'teacher')  # a corrected command starts afresh
  monkeypatch.undo()
  train_and_evaluate(_small(), str(tmp_path / 'teacher'))
