"""launch/ scripts: their --dry-run prints the exact commands, pdistill's arguments intact."""

import os
import shlex
import subprocess
import time

import pytest

from tiny_configs import REPO

ARGS = ['--config=configs/pcfg_bert.py:teacher', '--workdir=/mnt/shared/runs/bert teacher',
        '--config.student.schedule.checkpoints=(200, -1)']


def dry_run(script, *args, env=None):
  result = subprocess.run([os.path.join(REPO, 'launch', script), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})
  return result.returncode, [l for l in result.stdout.splitlines() if l], result.stderr


def test_tpu_pod_all_creates_copies_starts_detached_waits_and_deletes():
  rc, lines, err = dry_run('tpu_pod.sh', '--dry-run', 'all', '--', *ARGS,
                           env={'TPU_NAME': 'exp1', 'ZONE': 'europe-west4-a',
                                'ACCELERATOR_TYPE': 'v5litepod-16'})
  assert rc == 0, err
  words = [shlex.split(l) for l in lines]
  assert words[0][:5] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'create']
  assert '--accelerator-type=v5litepod-16' in words[0] and '--zone=europe-west4-a' in words[0]
  assert words[1][:3] == ['git', '-C', REPO] and 'archive' in words[1]
  assert words[2][4] == 'scp' and '--worker=all' in words[2]
  assert words[3][4] == 'ssh' and '--worker=all' in words[3]
  run = words[4]
  assert run[4:6] == ['ssh', 'exp1'] and '--worker=all' in run
  command = next(w for w in run if w.startswith('--command='))[len('--command='):]
  remote = shlex.split(command)
  assert remote[:4] == ['cd', 'pdistill', '&&', 'launch/detach.sh']
  assert remote[4:8] == ['python', '-m', 'pdistill.main', '--multihost']
  assert remote[8:] == ARGS  # spaces and parentheses survive both shells
  # wait polls each worker's status; delete checks it again before deleting
  for status in words[5:7]:
    assert status[4] == 'ssh' and 'pdistill_run.rc' in status[-1]
  assert words[7][:5] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'delete'] and len(words) == 8


@pytest.mark.parametrize('step,count', [('create', 1), ('copy', 3), ('run', 1), ('status', 1),
                                        ('logs', 1), ('wait', 1), ('delete', 2)])
def test_tpu_pod_single_steps(step, count):
  rc, lines, err = dry_run('tpu_pod.sh', '--dry-run', step, '--', *ARGS)
  assert rc == 0 and len(lines) == count, (lines, err)


def test_detach_outlives_its_shell_and_records_the_exit_status(tmp_path):
  started = subprocess.run([os.path.join(REPO, 'launch', 'detach.sh'), 'bash', '-c',
                            'sleep 1; echo done; exit 3'], cwd=tmp_path, capture_output=True,
                           text=True, timeout=10)
  assert started.returncode == 0 and 'started pid' in started.stdout
  assert not (tmp_path / 'pdistill_run.rc').exists()  # returned at once, job still running
  deadline = time.time() + 30
  while not (tmp_path / 'pdistill_run.rc').exists() and time.time() < deadline:
    time.sleep(0.1)
  assert (tmp_path / 'pdistill_run.rc').read_text().strip() == '3'
  assert (tmp_path / 'pdistill_run.log').read_text().strip() == 'done'


def test_tpu_pod_rejects_an_unknown_step():
  rc, lines, err = dry_run('tpu_pod.sh', '--dry-run', 'launch')
  assert rc == 2 and "unknown step 'launch'" in err and 'create | copy | run' in err


def test_slurm_submits_one_task_per_gpu_running_the_same_command():
  rc, lines, err = dry_run('slurm.sh', '--dry-run', '--nodes=2', '--gpus-per-node=4',
                           '--partition=gpu', '--', *ARGS)
  assert rc == 0, err
  sbatch = shlex.split(lines[0])
  assert sbatch[0] == 'sbatch' and sbatch[1:6] == [
      '--nodes=2', '--ntasks-per-node=4', '--gpus-per-node=4', '--time=24:00:00',
      '--partition=gpu']
  assert sbatch[6] == os.path.join(REPO, 'launch', 'slurm_gpu.sbatch') and sbatch[7:] == ARGS
  assert lines[1] == '# then each of the 8 tasks runs:'
  assert shlex.split(lines[2]) == ['srun', 'python', '-m', 'pdistill.main', '--multihost',
                                   *ARGS]


@pytest.mark.parametrize('args,message', [
    (['--dry-run'], 'missing pdistill arguments'),
    (['--dry-run', '--nodes=0', '--', '--config=x'], 'positive integers'),
    (['--dry-run', '--gpus=4', '--', '--config=x'], "unknown option '--gpus=4'"),
])
def test_slurm_bad_options_are_named(args, message):
  rc, _, err = dry_run('slurm.sh', *args)
  assert rc == 2 and message in err, err
