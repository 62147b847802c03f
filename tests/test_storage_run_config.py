"""Runs recorded by an older pdistill stay usable: the run record is additive.

``tests/fixtures/runs_54e1513`` holds a teacher and a progressive student stopped after its
checkpoint 500, both written by pdistill at commit 54e1513, before ``student.loss`` existed
(``student`` reads its teacher as ``teacher``, relative to the fixture's folder).
"""

import json
import os
import shutil

import pytest

from pdistill import config as config_lib
from pdistill.config import ConfigError
from pdistill.metrics import log as metrics_log
from pdistill.train import train_and_evaluate
from tiny_configs import REPO, tiny

FIXTURE = os.path.join(REPO, 'tests', 'fixtures', 'runs_54e1513')


def _as_recorded(method):
  """The config the fixture's runs were made with."""
  c = tiny(method)
  c.teacher.update(num_steps=1_000, trajectory_every_steps=250)
  c.teacher.model.hidden = (16,)
  c.student.update(teacher_workdir='teacher', num_steps=1_000)
  c.student.model.hidden = (8,)
  c.student.schedule.update(kind='manual', checkpoints=(500, -1), steps_per_checkpoint=(300,))
  return c


@pytest.fixture
def old_runs(tmp_path, monkeypatch):
  shutil.copytree(FIXTURE, tmp_path / 'runs')
  monkeypatch.chdir(tmp_path / 'runs')
  return tmp_path / 'runs'


def test_the_fixture_predates_the_loss_fields():
  with open(os.path.join(FIXTURE, 'student', 'config.json')) as f:
    recorded = json.load(f)
  assert 'loss' not in recorded['student'] and 'loss_kw' not in recorded['student']


def test_an_old_student_resumes_and_finishes(old_runs):
  before = metrics_log.read('student')
  assert before[-1]['step'] == 500
  train_and_evaluate(_as_recorded('progressive'), 'student')
  after = metrics_log.read('student')
  assert after[-1]['step'] == 1_000
  kept = [{k: r[k] for k in b} for b, r in zip(before, after)]
  assert kept == before  # the history it had is untouched
  assert 'eval_kl_forward' in after[-1]  # what the resumed part logs beside it


def test_a_new_student_distils_from_an_old_teacher(old_runs):
  c = _as_recorded('one_shot')
  c.student.loss = 'jsd'
  train_and_evaluate(c, 'one_shot_jsd')
  assert metrics_log.read('one_shot_jsd')[-1]['step'] == 1_000


def test_an_old_finished_teacher_reruns_as_finished(old_runs):
  records = metrics_log.read('teacher')
  assert train_and_evaluate(_as_recorded('teacher'), 'teacher')['step'] == 1_000
  assert metrics_log.read('teacher') == records


def test_a_non_default_new_field_still_differs_from_an_old_run(old_runs):
  c = _as_recorded('progressive')
  c.student.loss = 'reverse_kl'
  with pytest.raises(ConfigError, match="student.loss: is 'reverse_kl' but the run already in "
                     "student has None"):
    train_and_evaluate(c, 'student')


def test_recorded_diffs_honour_added_fields_only_at_their_defaults():
  saved = {'student': {'alpha': 0.0}, 'data': {'n': 12}}
  new = {'student': {'alpha': 0.0, 'loss': 'forward_kl',
                     'loss_kw': dict(config_lib.LOSS_DEFAULTS['loss_kw'])},
         'data': {'n': 12, 'as_tokens': False}}
  assert list(config_lib.recorded_diffs(saved, new)) == []
  new['student']['loss_kw']['beta'] = 0.25
  assert [d[0] for d in config_lib.recorded_diffs(saved, new)] == ['student.loss_kw']
  new['data']['unheard_of'] = 1  # a field no version recorded without: a difference
  assert [d[0] for d in config_lib.recorded_diffs(saved, new)] == ['data.unheard_of',
                                                                   'student.loss_kw']


def test_a_damaged_config_json_is_named_in_one_line(tmp_path):
  from pdistill.storage.run_lock import WorkdirError
  os.makedirs(tmp_path / 'run')
  (tmp_path / 'run' / 'config.json').write_text('{"method": "teacher", "se')
  with pytest.raises(WorkdirError, match=r'run/config.json is damaged \(Unterminated string'):
    train_and_evaluate(tiny('teacher'), str(tmp_path / 'run'))
