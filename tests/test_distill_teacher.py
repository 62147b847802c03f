"""A student knows its teacher: the provenance record refuses a resume against another one."""

import os
import shutil

import pytest

from pdistill.config import ConfigError
from pdistill.distill import teacher as teacher_lib
from pdistill.metrics import log as metrics_log
from pdistill.train import train_and_evaluate
from crash_resume import crash_at
from tiny_configs import tiny


def _teacher(workdir, seed=0):
  c = tiny('teacher')
  c.seed = seed
  train_and_evaluate(c, workdir)


def _student(teacher_workdir, method='progressive'):
  c = tiny(method)
  c.student.teacher_workdir = teacher_workdir
  return c


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
  root = tmp_path_factory.mktemp('teachers')
  _teacher(str(root / 'seed0'))
  _teacher(str(root / 'seed1'), seed=1)
  return root


def test_a_student_records_its_teacher(teachers, tmp_path):
  train_and_evaluate(_student(str(teachers / 'seed0'), 'one_shot'), str(tmp_path / 's'))
  assert os.path.exists(tmp_path / 's' / teacher_lib.PROVENANCE)


def test_a_resume_against_a_retrained_teacher_is_refused(teachers, tmp_path, monkeypatch):
  teacher = str(tmp_path / 'teacher')
  shutil.copytree(teachers / 'seed0', teacher)
  config, workdir = _student(teacher), str(tmp_path / 'student')
  crash_at(config, workdir, monkeypatch)  # stopped after its checkpoint 500
  shutil.rmtree(teacher)
  shutil.copytree(teachers / 'seed1', teacher)  # retrained with another seed, same path
  before = metrics_log.read(workdir)
  with pytest.raises(ConfigError, match='is not the one this student .* distilled from'):
    train_and_evaluate(config, workdir)
  assert metrics_log.read(workdir) == before


def test_a_relative_teacher_path_from_another_directory_is_refused(teachers, tmp_path,
                                                                   monkeypatch):
  for name, seed in (('a', 'seed0'), ('b', 'seed1')):
    os.makedirs(tmp_path / name / 'work')
    shutil.copytree(teachers / seed, tmp_path / name / 'T')
  config, workdir = _student('../T', 'one_shot'), str(tmp_path / 'student')
  monkeypatch.chdir(tmp_path / 'a' / 'work')
  crash_at(config, workdir, monkeypatch)  # stopped after its checkpoint 500
  monkeypatch.chdir(tmp_path / 'b' / 'work')
  with pytest.raises(ConfigError, match='is not the one this student'):
    train_and_evaluate(config, workdir)
