"""The pipeline with several teachers: one per seed, every student per (teacher, student
seed) pair, claims over the pairs; a SIGKILL anywhere resumes to the same reports."""

import os
import subprocess
import sys

import pytest

from pdistill import pipeline
from pdistill.config import ConfigError
from pdistill.metrics import log as metrics_log
from pdistill.validation import validate
from tiny_configs import REPO, tiny

ARGS = ['--config.data.n=12', '--config.data.k=2', '--config.data.eval_size=512',
        '--config.teacher.model.hidden=(64,)', '--config.teacher.num_steps=3000',
        '--config.teacher.trajectory_every_steps=500', '--config.student.model.hidden=(16,)',
        '--config.student.num_steps=1000', '--config.pipeline_teacher_seeds=(0, 2)',
        '--config.pipeline_student_seeds=(0,)',
        '--config.pipeline_methods=("ce", "progressive:auto")',
        '--config.student.schedule.steps_per_checkpoint=(300,)',
        '--config.loop.chunk_steps=250', '--config.loop.eval_every_steps=250',
        '--config.loop.checkpoint_every_steps=500']


def _run(workdir, point=None):
  config = f'--config={os.path.join(REPO, "configs", "parity_mlp.py")}:pipeline,smoke'
  prefix = ([os.path.join(REPO, 'tests', 'kill_points.py'), point, '--'] if point else
            ['-m', 'pdistill.main'])
  return subprocess.run([sys.executable, *prefix, config, *ARGS, f'--workdir={workdir}'],
                        capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_several_teachers_resume_after_sigkill_to_the_same_reports(tmp_path):
  whole = str(tmp_path / 'whole')
  done = _run(whole)
  assert done.returncode == 0, done.stderr[-3000:]
  assert sorted(os.listdir(os.path.join(whole, 'teachers'))) == ['seed_0', 'seed_2']
  assert sorted(os.listdir(os.path.join(whole, 'progressive_auto'))) == ['teacher_0',
                                                                          'teacher_2']
  with open(os.path.join(whole, 'comparison.md')) as f:
    report = f.read()
  assert report.startswith('2 of 2 teachers learned.')
  assert '| ce | 2 | ' in report and '| progressive_auto | 2 | ' in report  # over 2 pairs

  killed = str(tmp_path / 'killed')
  # The teachers write 13 records each: the 30th is in the first student, CE of teacher 0.
  assert _run(killed, 'record=30').returncode == -9
  resumed = _run(killed)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  with open(os.path.join(killed, 'comparison.md')) as f:
    assert f.read() == report
  for name in ('teachers/seed_2', 'ce/teacher_2/seed_0', 'progressive_auto/teacher_0/seed_0'):
    assert (metrics_log.read(os.path.join(killed, name)) ==
            metrics_log.read(os.path.join(whole, name)))


def test_teacher_seeds_are_checked():
  c = tiny('pipeline')
  c.pipeline_teacher_seeds = (0, 0)
  with pytest.raises(ConfigError, match='pipeline_teacher_seeds: must be distinct'):
    validate(c)
  c.pipeline_teacher_seeds = (0, 1)
  c.student.teacher_workdir = '/some/teacher'
  with pytest.raises(ConfigError, match='pipeline_teacher_seeds: trains teachers, but'):
    validate(c)


def test_student_folders_name_their_pair():
  assert pipeline.student_name('ce', None, 3) == os.path.join('ce', 'seed_3')
  assert pipeline.student_name('ce', 2, 3) == os.path.join('ce', 'teacher_2', 'seed_3')
