"""The command line on a real full disk (a small tmpfs) and a real read-only mount.

Both are made in a private mount namespace (``unshare -rm``), so the tests need no root; where
user namespaces are not allowed they are skipped, saying so.
"""

import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from pdistill.metrics import log as metrics_log
from pdistill.storage import trajectory
from tiny_configs import REPO

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    shutil.which('unshare') is None or
    subprocess.run(['unshare', '-rm', 'true'], capture_output=True).returncode != 0,
    reason='needs unprivileged mount namespaces (unshare -rm) for a tmpfs and a read-only mount')]

NUM_STEPS = 4000


def _args(workdir):
  # n=100, H=1,000: each trajectory point and checkpoint holds ~400 KB of W1, so a 2 MB disk
  # fills after a few of them.
  return ['-m', 'pdistill.main',
          f'--config={os.path.join(REPO, "configs", "parity_mlp.py")}:teacher,smoke',
          '--config.data.n=100', '--config.data.k=2', '--config.data.eval_size=256',
          '--config.teacher.model.hidden=(1000,)', f'--config.teacher.num_steps={NUM_STEPS}',
          '--config.teacher.trajectory_every_steps=500', '--config.loop.chunk_steps=500',
          '--config.loop.eval_every_steps=500', '--config.loop.checkpoint_every_steps=1000',
          f'--workdir={workdir}']


def _in_namespace(script, *args):
  """Runs bash ``script`` (with ``$PY`` the test's Python) in a private mount namespace."""
  return subprocess.run(['unshare', '-rm', 'bash', '-c', script, 'bash', *args],
                        capture_output=True, text=True, timeout=300,
                        env={**os.environ, 'PY': sys.executable})


def _params(workdir):
  return jax.tree.map(np.asarray, trajectory.load_params(workdir, NUM_STEPS))


@pytest.fixture(scope='module')
def whole(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('whole') / 'run')
  subprocess.run([sys.executable, *_args(workdir)], check=True, capture_output=True)
  return workdir


# The room check before each save disabled: the disk fills inside Orbax's writer threads, as
# when another process fills it between the check and the write.
UNCHECKED = ('-c', 'import sys; from pdistill.storage import orbax_io; '
             'orbax_io.ensure_room = lambda *a: None; from pdistill import main; '
             'sys.argv[0] = "pdistill.main"; main.run()')


@pytest.mark.parametrize('checked', [True, False], ids=['checked', 'filled_while_writing'])
def test_a_full_disk_exits_2_in_one_line_and_keeps_what_was_saved(whole, tmp_path, checked):
  disk, kept = str(tmp_path / 'disk'), str(tmp_path / 'kept')
  os.makedirs(disk)
  script = ('mount -t tmpfs -o size=2m tmpfs "$1" || exit 99\n'
            '"$PY" "${@:3}"; rc=$?\n'
            'cp -a "$1/run" "$2"; exit $rc')
  args = _args(os.path.join(disk, 'run'))
  full = _in_namespace(script, disk, kept, *(args if checked else UNCHECKED + tuple(args[2:])))
  assert full.returncode == 2, (full.returncode, full.stderr[-3000:])
  last = full.stderr.strip().splitlines()[-1]
  assert last.startswith(f'error: cannot write {disk}/run') and 'No space left' in last, last
  assert 'rerun the same command to resume' in last
  if checked:  # caught before the save: that line is all; filled while TensorStore was
    # writing, its threads may print a traceback of their own before it (seen now and then)
    assert 'Traceback' not in full.stderr and 'error' not in full.stderr.lower().replace(
        last.lower(), ''), full.stderr[-3000:]
  assert metrics_log.read(kept)[-1]['step'] < NUM_STEPS  # it stopped early

  # What was saved before is intact: the same command on a disk with room finishes exactly.
  resumed = subprocess.run([sys.executable, *_args(kept)], capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  jax.tree.map(np.testing.assert_array_equal, _params(whole), _params(kept))
  assert metrics_log.read(kept) == metrics_log.read(whole)


def _read_only(workdir, *args):
  script = ('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99\n'
            '"$PY" "${@:2}"')
  return _in_namespace(script, workdir, *args)


def _listing(path):
  return sorted((root, tuple(sorted(files)), os.path.getmtime(root))
                for root, _, files in os.walk(path))


def test_rerunning_a_finished_run_on_a_read_only_mount_succeeds(whole):
  before = _listing(whole)
  result = _read_only(whole, *_args(whole))
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'finished already' in result.stderr
  assert _listing(whole) == before


def test_an_unfinished_run_on_a_read_only_mount_exits_2_in_one_line(whole, tmp_path):
  shorter = str(tmp_path / 'run')
  subprocess.run([sys.executable, *_args(shorter), '--config.teacher.num_steps=1000'],
                 check=True, capture_output=True)
  result = _read_only(shorter, *_args(shorter))  # asks for 4,000 steps: a different run
  assert result.returncode == 2, result.stderr[-3000:]
  assert 'num_steps' in result.stderr.splitlines()[-1]

  unfinished = str(tmp_path / 'unfinished')
  shutil.copytree(whole, unfinished)
  shutil.rmtree(os.path.join(unfinished, 'checkpoints', str(NUM_STEPS)))
  result = _read_only(unfinished, *_args(unfinished))
  assert result.returncode == 2, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: workdir') and 'read-only' in last and 'not finished' in last


@pytest.mark.parametrize('variant', [
    ('pipeline,smoke', '--config.pipeline_methods=("ce", "one_shot")',
     '--config.student.num_steps=1000'),
    ('ce,smoke', '--config.sweep.seeds=(0, 1)', '--config.student.num_steps=1000'),
], ids=['pipeline', 'sweep'])
def test_a_finished_pipeline_or_sweep_reruns_on_a_read_only_mount(tmp_path, variant):
  spec, *overrides = variant
  workdir = str(tmp_path / 'run')
  args = ['-m', 'pdistill.main', f'--config={os.path.join(REPO, "configs", "parity_mlp.py")}:'
          f'{spec}', '--config.data.n=12', '--config.data.k=2', '--config.data.eval_size=256',
          '--config.teacher.model.hidden=(32,)', '--config.teacher.num_steps=2000',
          *overrides, f'--workdir={workdir}']
  subprocess.run([sys.executable, *args], check=True, capture_output=True)
  before = _listing(workdir)
  result = _read_only(workdir, *args)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stderr.count('finished already') == (3 if spec.startswith('pipeline') else 1)
  assert _listing(workdir) == before
