"""data.host_pool: host-made batches from several processes are the batches one process makes."""

import json
import os

import jax
import numpy as np
import pytest

from pdistill.data import host_pool, tasks
from pdistill.train import train_and_evaluate
from tiny_configs import load_config_module


def _pcfg_config():
  c = load_config_module('pcfg_bert').get_config('teacher,smoke')
  c.teacher.update(num_steps=24, trajectory_every_steps=12)
  c.loop.update(chunk_steps=8, eval_every_steps=12, checkpoint_every_steps=12)
  return c


def test_a_pool_makes_the_same_chunk_input_as_one_process():
  c = _pcfg_config()
  task = tasks.build(c.data, 8)
  make, close = host_pool.make_chunk_input(task, c.data, 8, processes=3)
  try:
    # 7 steps over 3 processes (shares of 2, 2, 3), two seeds
    pooled = make([0, 5], 10, 7)
    again = make([0, 5], 3, 2)  # fewer steps than processes
  finally:
    close()
  for got, want in ((pooled, task.chunk_input([0, 5], 10, 7)),
                    (again, task.chunk_input([0, 5], 3, 2))):
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      assert a.shape == b.shape and a.dtype == b.dtype
      np.testing.assert_array_equal(a, b)


def test_parity_batches_are_made_on_device_so_no_pool_is_started():
  c = load_config_module('parity_mlp').get_config('teacher,smoke')
  task = tasks.build(c.data, 1)
  make, _ = host_pool.make_chunk_input(task, c.data, 1, processes=4)
  assert not task.on_host and make == task.chunk_input


@pytest.mark.slow
def test_a_run_with_sampler_processes_equals_one_without(tmp_path, monkeypatch):
  pooled_chunks = []
  pool_chunk_input = host_pool.HostPool.chunk_input

  def counted(self, seeds, start, length):
    pooled_chunks.append((start, length))
    return pool_chunk_input(self, seeds, start, length)

  monkeypatch.setattr(host_pool.HostPool, 'chunk_input', counted)
  results, metrics = {}, {}
  for processes in (0, 2):
    c = _pcfg_config()
    c.loop.host_data_processes = processes
    workdir = str(tmp_path / str(processes))
    results[processes] = train_and_evaluate(c, workdir)
    with open(os.path.join(workdir, 'metrics.jsonl')) as f:
      metrics[processes] = [json.loads(line) for line in f]
  assert pooled_chunks == [(0, 8), (8, 4), (12, 4), (16, 8)]  # only the run with processes
  assert results[0] == results[2]
  assert metrics[0] == metrics[2]
