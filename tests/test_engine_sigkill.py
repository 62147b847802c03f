"""The SIGKILL matrix: a run killed at any of 12 points of its life, then rerun, ends exactly
as an uninterrupted run: the same params, metrics records (no twin, no torn line),
trajectory and checkpoints."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from pdistill.metrics import log as metrics_log
from pdistill.storage import checkpoints, trajectory
from kill_points import POINTS
from tiny_configs import REPO

pytestmark = pytest.mark.slow  # the SIGKILL matrix: a subprocess killed and rerun per point

NUM_STEPS = 6000


def _cli(workdir):
  return [f'--config={os.path.join(REPO, "configs", "parity_mlp.py")}:teacher,smoke',
          '--config.data.n=12', '--config.data.k=2', '--config.data.eval_size=256',
          '--config.teacher.model.hidden=(32,)', f'--config.teacher.num_steps={NUM_STEPS}',
          '--config.teacher.trajectory_every_steps=2000', '--config.loop.chunk_steps=500',
          '--config.loop.eval_every_steps=500', '--config.loop.checkpoint_every_steps=1500',
          f'--workdir={workdir}']


def _main(workdir, point=None):
  prefix = ([os.path.join(REPO, 'tests', 'kill_points.py'), point, '--'] if point else
            ['-m', 'pdistill.main'])
  return subprocess.run([sys.executable, *prefix, *_cli(workdir)], capture_output=True,
                        text=True, timeout=300)


@pytest.fixture(scope='module')
def whole(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('whole'))
  assert _main(workdir).returncode == 0
  return workdir


def _final_params(workdir):
  return jax.tree.map(np.asarray, trajectory.load_params(workdir, NUM_STEPS))


@pytest.mark.parametrize('point', sorted(POINTS))
def test_a_run_killed_at_any_point_resumes_to_the_same_end(whole, tmp_path, point):
  workdir = str(tmp_path / 'run')
  killed = _main(workdir, point)
  assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-2000:])

  resumed = _main(workdir)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  jax.tree.map(np.testing.assert_array_equal, _final_params(whole), _final_params(workdir))
  with open(os.path.join(workdir, metrics_log.FILENAME)) as f:
    lines = f.read().splitlines()
  assert [json.loads(line) for line in lines] == metrics_log.read(whole)  # whole lines only
  assert trajectory.saved_steps(workdir) == trajectory.saved_steps(whole)
  assert checkpoints.RunCheckpoints(workdir).latest_step() == NUM_STEPS
  assert not os.path.exists(os.path.join(workdir, '.lock'))
  leftovers = [name for sub in ('checkpoints', 'trajectory')
               for name in os.listdir(os.path.join(workdir, sub)) if not name.isdigit()]
  assert not leftovers, leftovers  # no half-written Orbax folder survives the rerun
