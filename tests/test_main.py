"""The command line: the default run, overrides, and bad input that must fail cleanly."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from pdistill.metrics import log as metrics_log
from pdistill.storage import checkpoints, trajectory
from pdistill.storage.run_lock import WorkdirError
from pdistill.main import check_override_fields, storage_error
from pdistill.train import train_and_evaluate
from tiny_configs import REPO, tiny

CONFIG = os.path.join(REPO, 'configs', 'parity_mlp.py')


def run_cli(*args, cwd=None):
  return subprocess.run([sys.executable, '-m', 'pdistill.main', *args], capture_output=True,
                        text=True, cwd=cwd)


def tree_digest(path):
  digest = hashlib.sha256()
  for root, dirs, files in sorted(os.walk(path)):
    dirs.sort()
    for name in sorted(files):
      full = os.path.join(root, name)
      digest.update(full.encode())
      with open(full, 'rb') as f:
        digest.update(f.read())
  return digest.hexdigest()


@pytest.fixture(scope='module')
def teacher_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('cli_teacher'))
  train_and_evaluate(tiny('teacher'), workdir)
  return workdir


def test_cli_runs_a_teacher_with_overrides(tmp_path):
  workdir = str(tmp_path / 'run')
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.teacher.num_steps=2000',
                   '--config.loop.log_every_secs=0', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr
  assert 'steps/s' in result.stderr and 'ETA' in result.stderr
  assert metrics_log.read(workdir)[-1]['step'] == 2000
  assert trajectory.saved_steps(workdir) == [0, 1000, 2000]


def test_cli_default_workdir_is_named_after_the_config(tmp_path):
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.teacher.num_steps=1000',
                   cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert os.path.isdir(tmp_path / 'runs' / 'parity_mlp_teacher_smoke' / 'trajectory')


def test_unknown_field_names_it_and_lists_valid_fields(tmp_path):
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.teacher.nope=1',
                   f'--workdir={tmp_path / "w"}')
  assert result.returncode == 2
  assert "config.teacher has no field 'nope'" in result.stderr
  assert 'num_steps' in result.stderr
  assert not os.path.exists(tmp_path / 'w')


def test_unknown_field_check_walks_nested_sections():
  assert check_override_fields([f'--config={CONFIG}:smoke', '--config.student.schedule.kind=x']
                               ) is None
  error = check_override_fields([f'--config={CONFIG}', '--config.student.schedul.kind=x'])
  assert "config.student has no field 'schedul'" in error and 'schedule' in error


def test_wrong_type_is_refused(tmp_path):
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.seed=abc',
                   f'--workdir={tmp_path / "w"}')
  assert result.returncode == 2
  assert '--config.seed=abc' in result.stderr
  assert not os.path.exists(tmp_path / 'w')


def test_a_bad_flag_value_exits_2_with_one_line(tmp_path):
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.teacher.num_steps=abc',
                   f'--workdir={tmp_path / "w"}')
  assert result.returncode == 2, result.stderr
  assert '--config.teacher.num_steps=abc' in result.stderr and 'Traceback' not in result.stderr
  assert not os.path.exists(tmp_path / 'w')


def test_a_missing_config_file_or_unknown_variant_is_named():
  # run() prints these and exits 2 before absl parses anything (the test above shows the path)
  assert check_override_fields(['--config=no_such_config.py']) == (
      '--config: no_such_config.py does not exist')
  error = check_override_fields([f'--config={CONFIG}:teachr'])
  assert "unknown config option(s) ['teachr']" in error and 'teacher' in error


def test_a_workdir_with_run_files_but_no_config_is_refused(tmp_path):
  (tmp_path / 'metrics.jsonl').write_text('{"step": 0, "eval_accuracy": 0.5}\n')
  with pytest.raises(WorkdirError, match='holds metrics.jsonl but no config.json'):
    train_and_evaluate(tiny('teacher'), str(tmp_path))
  assert (tmp_path / 'metrics.jsonl').read_text() == '{"step": 0, "eval_accuracy": 0.5}\n'
  assert sorted(os.listdir(tmp_path)) == ['metrics.jsonl']


def test_a_diverging_run_exits_3_naming_the_step(tmp_path):
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.teacher.optim.learning_rate=1e30',
                   '--config.teacher.num_steps=500', f'--workdir={tmp_path / "w"}')
  assert result.returncode == 3, result.stderr
  assert 'diverged at step' in result.stderr and 'Traceback' not in result.stderr


def test_missing_teacher_workdir_is_refused(tmp_path):
  result = run_cli(f'--config={CONFIG}:one_shot,smoke',
                   f'--config.student.teacher_workdir={tmp_path / "no_teacher"}',
                   f'--workdir={tmp_path / "w"}')
  assert result.returncode == 2
  assert 'config.student.teacher_workdir' in result.stderr and 'does not exist' in result.stderr
  assert not os.path.exists(tmp_path / 'w')


def test_progressive_schedule_naming_a_missing_checkpoint_is_refused(tmp_path, teacher_dir):
  args = [f'--config={CONFIG}:progressive,smoke', '--config.data.n=12', '--config.data.k=2',
          f'--config.student.teacher_workdir={teacher_dir}',
          '--config.student.schedule.checkpoints=(1234, -1)', f'--workdir={tmp_path / "w"}']
  before = tree_digest(teacher_dir)
  result = run_cli(*args)
  assert result.returncode == 2
  assert 'config.student.schedule.checkpoints: teacher checkpoint 1234 does not exist' in (
      result.stderr)
  assert '[0, 500, 1000, 1500, 2000, 2500, 3000]' in result.stderr
  assert not os.path.exists(tmp_path / 'w')
  assert tree_digest(teacher_dir) == before


def test_student_data_must_match_the_teacher(tmp_path, teacher_dir):
  result = run_cli(f'--config={CONFIG}:one_shot,smoke', '--config.data.n=13',
                   '--config.data.k=2', f'--config.student.teacher_workdir={teacher_dir}',
                   f'--workdir={tmp_path / "w"}')
  assert result.returncode == 2
  assert 'config.data.n: is 13 but the teacher' in result.stderr


def test_a_different_config_never_overwrites_an_existing_run(tmp_path, teacher_dir):
  before = tree_digest(teacher_dir)
  result = run_cli(f'--config={CONFIG}:teacher,smoke', '--config.data.n=12', '--config.data.k=2',
                   '--config.teacher.model.hidden=(65,)', f'--workdir={teacher_dir}')
  assert result.returncode == 2
  assert 'but the run already in' in result.stderr
  assert 'config.teacher.model.hidden is [65] (run has [64])' in result.stderr
  assert tree_digest(teacher_dir) == before


def test_a_teacher_that_has_not_finished_is_refused(tmp_path, teacher_dir):
  unfinished = str(tmp_path / 'unfinished')
  c = tiny('teacher')
  train_and_evaluate(c, unfinished)
  # Pretend the teacher was asked for more steps than it has run.
  import json
  path = os.path.join(unfinished, 'config.json')
  saved = json.load(open(path))
  saved['teacher']['num_steps'] = 6000
  json.dump(saved, open(path, 'w'))
  result = run_cli(f'--config={CONFIG}:one_shot,smoke', '--config.data.n=12', '--config.data.k=2',
                   f'--config.student.teacher_workdir={unfinished}', f'--workdir={tmp_path / "w"}')
  assert result.returncode == 2
  assert 'is not finished (latest trajectory step 3000 of 6000)' in result.stderr


def test_sigint_stops_at_a_chunk_boundary_with_a_checkpoint(tmp_path):
  workdir = tmp_path / 'w'
  run = subprocess.Popen(
      [sys.executable, '-m', 'pdistill.main', f'--config={CONFIG}:teacher,smoke',
       '--config.teacher.num_steps=100000000', '--config.loop.chunk_steps=100',
       '--config.loop.eval_every_steps=1000', '--config.loop.checkpoint_every_steps=1000',
       f'--workdir={workdir}'], stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while len(metrics_log.read(str(workdir))) < 2 and time.time() < deadline:  # in the loop
    time.sleep(0.2)
  run.send_signal(signal.SIGINT)
  _, stderr = run.communicate(timeout=120)
  assert run.returncode == 130, stderr
  assert 'SIGINT: stopped at step' in stderr and 'rerun the same command' in stderr
  assert 'Traceback' not in stderr
  stopped_at = int(stderr.split('stopped at step ')[1].split()[0])
  assert checkpoints.load_latest_params(str(workdir))[1] == stopped_at


def test_a_full_disk_is_found_behind_the_wrappers_libraries_add():
  import errno
  full = OSError(errno.ENOSPC, 'No space left on device', '/w/checkpoints/5000')
  try:
    try:
      raise full
    except OSError as e:
      raise RuntimeError('Orbax: async save failed') from e
  except RuntimeError as wrapped:
    assert storage_error(wrapped) is full
  assert storage_error(ValueError('not a disk problem')) is None
  assert storage_error(OSError(errno.ENOENT, 'missing')) is None


def test_a_full_disk_reported_by_tensorstore_is_found():
  # The text TensorStore gave on a real full tmpfs (tests/test_main_disks.py fills one).
  import errno
  message = ('RESOURCE_EXHAUSTED: Error writing "Dense_0.bias/0" in OCDBT database at local '
             'file "/w/trajectory/1500.orbax-checkpoint-tmp/params.orbax-checkpoint-tmp/'
             'ocdbt.process_0/": Failed writing: "/w/trajectory/1500.orbax-checkpoint-tmp/d/'
             'b28f": Failed to write 106831 bytes to file 13: No space left on device '
             "[os_error_code='28']")
  try:
    try:
      raise ValueError(message)
    except ValueError as e:
      raise RuntimeError('Orbax: async save failed') from e
  except RuntimeError as wrapped:
    found = storage_error(wrapped)
  assert found.errno == errno.ENOSPC and found.strerror == os.strerror(errno.ENOSPC)
  assert found.filename.startswith('/w/trajectory/1500.orbax-checkpoint-tmp/')
  assert storage_error(ValueError("[os_error_code='2'] missing")) is None


SIGTERM_BETWEEN_RUNS = '''
import os, signal, sys
from pdistill import pipeline
def train_run(config, workdir):  # SIGTERM as the pipeline starts its next sub-run
  os.kill(os.getpid(), signal.SIGTERM)
  raise AssertionError('SIGTERM was not acted on')
pipeline.train_run = train_run
from pdistill import main
sys.argv = ['pdistill.main', '--config={config}:pipeline,smoke', '--workdir={workdir}']
main.run()
'''


def test_sigterm_between_a_pipelines_runs_exits_143_with_a_line(tmp_path):
  script = SIGTERM_BETWEEN_RUNS.format(config=CONFIG, workdir=tmp_path / 'p')
  done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
  assert done.returncode == 143, done.stderr
  assert done.stderr.strip().splitlines()[-1].startswith('SIGTERM: stopped outside')
  assert 'Traceback' not in done.stderr
