"""A student knows its teacher: the provenance record refuses a resume against another one."""

import gc
import json
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


def _pipeline(methods=('one_shot',), **student):
  c = tiny('pipeline')
  c.pipeline_methods = methods
  c.student.update(num_steps=1_000, **student)
  return c


def test_a_pipeline_refuses_to_resume_its_students_against_a_retrained_teacher(
    teachers, tmp_path, monkeypatch):
  workdir = str(tmp_path / 'pipeline')
  shutil.copytree(teachers / 'seed0', os.path.join(workdir, 'teacher'))  # trained by it
  config = _pipeline(('progressive',))
  crash_at(config, workdir, monkeypatch)  # its student stopped after checkpoint 500
  student_dir = os.path.join(workdir, 'progressive', 'seed_0')
  before = metrics_log.read(student_dir)
  shutil.rmtree(os.path.join(workdir, 'teacher'))  # retrained with --config.seed=1
  shutil.copytree(teachers / 'seed1', os.path.join(workdir, 'teacher'))
  config.seed = 1
  with pytest.raises(ConfigError, match='is not the one this student'):
    train_and_evaluate(config, workdir)
  assert metrics_log.read(student_dir) == before


def test_a_pipeline_given_a_relative_teacher_path_refuses_another_teacher_there(
    teachers, tmp_path, monkeypatch):
  for name, seed in (('a', 'seed0'), ('b', 'seed1')):
    os.makedirs(tmp_path / name / 'work')
    shutil.copytree(teachers / seed, tmp_path / name / 'T')
  config, workdir = _pipeline(teacher_workdir='../T'), str(tmp_path / 'pipeline')
  monkeypatch.chdir(tmp_path / 'a' / 'work')
  crash_at(config, workdir, monkeypatch)
  monkeypatch.chdir(tmp_path / 'b' / 'work')
  with pytest.raises(ConfigError, match='is not the one this student'):
    train_and_evaluate(config, workdir)


def test_a_moved_pipeline_reruns_as_finished(teachers, tmp_path, caplog):
  workdir = str(tmp_path / 'pipeline')
  shutil.copytree(teachers / 'seed0', os.path.join(workdir, 'teacher'))
  config = _pipeline()
  first = train_and_evaluate(config, workdir)
  moved = str(tmp_path / 'elsewhere' / 'pipeline')
  shutil.move(workdir, moved)
  student_dir = os.path.join(moved, 'one_shot', 'seed_0')
  before = metrics_log.read(student_dir)
  with caplog.at_level('INFO', logger='pdistill'):
    again = train_and_evaluate(config, moved)
  assert again['one_shot/seed_0'] == first['one_shot/seed_0']
  assert metrics_log.read(student_dir) == before
  assert 'its teacher moved' in caplog.text and 'finished already' in caplog.text
  with open(os.path.join(student_dir, teacher_lib.PROVENANCE)) as f:
    assert json.load(f)['workdir'] == os.path.join(moved, 'teacher')  # stored absolute


def _without_points(teachers, tmp_path, steps, name='T'):
  """A copy of the seed-0 teacher whose trajectory lost the points of ``steps``."""
  teacher = str(tmp_path / name)
  shutil.copytree(teachers / 'seed0', teacher)
  for step in steps:
    shutil.rmtree(os.path.join(teacher, 'trajectory', str(step)))
  return teacher


def test_a_schedule_reading_a_trajectory_with_gaps_is_refused(teachers, tmp_path):
  teacher = _without_points(teachers, tmp_path, (500, 1000))
  config = _student(teacher)
  config.student.num_steps = 500
  config.student.schedule.kind = 'multiplier'
  config.student.schedule.multiplier = 3.0
  with pytest.raises(ConfigError, match=r'lacks the points of steps \[500, 1000\]'):
    train_and_evaluate(config, str(tmp_path / 'student'))
  config.student.schedule.sparse_trajectory = True  # asked for: the saved points as they are
  train_and_evaluate(config, str(tmp_path / 'sparse'))
  used = {r['teacher_step'] for r in metrics_log.read(str(tmp_path / 'sparse')) if r['step']}
  assert 1500 in used and not used & {500, 1000}
  # A manual schedule of saved points does not read the rest.
  manual = _student(_without_points(teachers, tmp_path, (500,), 'T2'))
  manual.student.num_steps = 500
  train_and_evaluate(manual, str(tmp_path / 'manual'))


def test_a_pipeline_whose_teacher_lost_points_refuses_its_multiplier_students(
    teachers, tmp_path):
  workdir = str(tmp_path / 'pipeline')
  shutil.copytree(_without_points(teachers, tmp_path, (1000,)),
                  os.path.join(workdir, 'teacher'))
  with pytest.raises(ConfigError, match=r'lacks the points of steps \[1000\]'):
    train_and_evaluate(_pipeline(('progressive:multiplier',)), workdir)


def test_a_teacher_resumed_without_some_points_says_so(teachers, tmp_path, caplog):
  teacher = _without_points(teachers, tmp_path, (500, 1000))
  shutil.rmtree(os.path.join(teacher, 'checkpoints', '3000'))  # it resumes from 2500
  with caplog.at_level('WARNING', logger='pdistill'):
    train_and_evaluate(tiny('teacher'), teacher)
  assert 'lacks the points of steps [500, 1000]' in caplog.text


def test_a_finished_teacher_without_its_trajectory(teachers, tmp_path, caplog):
  teacher = str(tmp_path / 'T')
  shutil.copytree(teachers / 'seed0', teacher)
  shutil.rmtree(os.path.join(teacher, 'trajectory'))
  with caplog.at_level('INFO', logger='pdistill'):
    train_and_evaluate(tiny('teacher'), teacher)
  assert 'finished already' in caplog.text and 'resuming' not in caplog.text
  assert 'lacks the points of steps [0, 500, 1000' in caplog.text
  with pytest.raises(ConfigError, match='finished, but its trajectory lacks its last step 3000'):
    train_and_evaluate(_student(teacher, 'one_shot'), str(tmp_path / 'student'))


def test_a_teacher_sweep_is_named_as_such(teachers, tmp_path):
  root = str(tmp_path / 'sweep')
  os.makedirs(root)
  with open(teachers / 'seed0' / 'config.json') as f:
    saved = json.load(f)
  saved['sweep'] = dict(learning_rates=[0.1], seeds=[0, 1])
  with open(os.path.join(root, 'config.json'), 'w') as f:
    json.dump(saved, f)
  with pytest.raises(ConfigError, match=r"is a sweep of 2 teacher runs.*lr_0.1/seed_0"):
    train_and_evaluate(_student(root, 'one_shot'), str(tmp_path / 'student'))


def test_a_checkpoint_after_the_final_teacher_is_named_so(teachers, tmp_path):
  config = _student(str(teachers / 'seed0'))
  config.student.teacher_final_step = 1000
  config.student.schedule.checkpoints = (1500, -1)
  with pytest.raises(ConfigError, match='1500 comes after the final teacher'):
    train_and_evaluate(config, str(tmp_path / 'student'))


def test_a_damaged_teacher_config_is_one_line(teachers, tmp_path):
  teacher = str(tmp_path / 'T')
  shutil.copytree(teachers / 'seed0', teacher)
  with open(os.path.join(teacher, 'config.json'), 'w') as f:
    f.write('{"method": "teacher", "da')
  with pytest.raises(ConfigError, match=r'config.json is damaged'):
    train_and_evaluate(_student(teacher, 'one_shot'), str(tmp_path / 'student'))


def test_a_teacher_whose_checkpoints_do_not_fit_its_config(teachers, tmp_path, capfd):
  teacher = str(tmp_path / 'T')
  shutil.copytree(teachers / 'seed0', teacher)
  with open(os.path.join(teacher, 'config.json')) as f:
    saved = json.load(f)
  saved['teacher']['model']['hidden'] = [32]
  with open(os.path.join(teacher, 'config.json'), 'w') as f:
    json.dump(saved, f)
  with pytest.raises(ConfigError, match=r"params\['Dense_0'\]\['bias'\] is saved with shape "
                                        r'\(64,\) at step 3000 but its config.json builds '
                                        r'\(32,\)'):
    train_and_evaluate(_student(teacher, 'one_shot'), str(tmp_path / 'student'))
  gc.collect()  # a failed Orbax read would leave coroutines that print tracebacks when freed
  assert 'Traceback' not in capfd.readouterr().err
