"""Two local processes (2 fake CPU devices each, coordinator on 127.0.0.1) train like one 4-device one."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from pdistill.config.files import load_config
from pdistill.metrics import log as metrics_log
from pdistill.parallel import multihost
from pdistill.storage import checkpoints
from pdistill.train import train_and_evaluate
from tiny_configs import REPO

CONFIG = os.path.join(REPO, 'configs', 'parity_mlp.py') + ':teacher,smoke'
# batch 4 = one example per device; one chunk of 200 steps, checkpointed at its end
OVERRIDES = ['--config.teacher.batch_size=4', '--config.teacher.num_steps=200',
             '--config.teacher.trajectory_every_steps=200', '--config.loop.chunk_steps=200',
             '--config.loop.eval_every_steps=200', '--config.loop.checkpoint_every_steps=200']


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_two_processes_give_the_params_of_one_process_with_four_devices(tmp_path):
  multi = str(tmp_path / 'two_processes')
  port = free_port()
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu',
         'XLA_FLAGS': '--xla_force_host_platform_device_count=2'}
  procs = [subprocess.Popen(
      [sys.executable, '-m', 'pdistill.main', f'--config={CONFIG}', *OVERRIDES,
       f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2', f'--process_id={i}',
       f'--workdir={multi}'], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outputs = []
  for p in procs:
    try:
      outputs.append(p.communicate(timeout=240)[0])
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      pytest.fail('multi-process run timed out')
  assert [p.returncode for p in procs] == [0, 0], outputs
  assert 'step 200/200' in outputs[0] and 'step 200/200' not in outputs[1]  # process 0 reports

  single = str(tmp_path / 'one_process')
  config = load_config(CONFIG)
  for override in OVERRIDES:
    field, value = override[len('--config.'):].split('=')
    section, key = field.split('.')
    config[section][key] = int(value)
  config.loop.num_devices = 4
  train_and_evaluate(config, single)

  multi_params, step = checkpoints.load_latest_params(multi)
  single_params, _ = checkpoints.load_latest_params(single)
  assert step == 200
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               multi_params, single_params)
  # Only process 0 wrote metrics: one record per eval, none twice.
  multi_rows, single_rows = metrics_log.read(multi), metrics_log.read(single)
  assert [r['step'] for r in multi_rows] == [0, 200]
  for a, b in zip(multi_rows, single_rows):
    assert a.keys() == b.keys()
    np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-5)


def test_cluster_detection():
  assert not multihost.cluster_detected({})
  assert not multihost.cluster_detected({'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '1'})
  assert multihost.cluster_detected({'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '4'})
  assert not multihost.cluster_detected({'TPU_WORKER_HOSTNAMES': 'localhost'})
  assert multihost.cluster_detected({'TPU_WORKER_HOSTNAMES': '10.0.0.2,10.0.0.3'})


def test_a_slurm_allocation_without_multihost_runs_on_this_host_alone(monkeypatch, capsys):
  for name, value in (('SLURM_JOB_ID', '7'), ('SLURM_NTASKS', '2'), ('SLURM_PROCID', '0')):
    monkeypatch.setenv(name, value)
  # Joining would wait for a second task that never comes; this returns at once instead.
  assert multihost.initialize() is False
  assert 'pass --multihost to join the job' in capsys.readouterr().err
  assert jax.process_count() == 1


@pytest.mark.parametrize('args,message', [
    (['--coordinator_address=127.0.0.1:1234'], '--num_processes and --process_id'),
    (['--coordinator_address=127.0.0.1:1234', '--num_processes=2', '--process_id=2'],
     r'--process_id=2 must be in 0..1'),
])
def test_bad_multiprocess_flags_are_named(tmp_path, args, message):
  result = subprocess.run([sys.executable, '-m', 'pdistill.main', f'--config={CONFIG}', *args,
                           f'--workdir={tmp_path / "w"}'], capture_output=True, text=True,
                          timeout=120)
  assert result.returncode == 2 and message in result.stderr, result.stderr
  assert not os.path.exists(tmp_path / 'w')
