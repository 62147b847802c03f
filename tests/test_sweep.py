"""Sweeps: a learning-rate x seed grid as one vmapped program, member by member equal to plain runs."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from pdistill import sweep
from pdistill.config import ConfigError
from pdistill.engine import Diverged
from pdistill.metrics import log as metrics_log
from pdistill.parallel import multihost
from pdistill.storage import checkpoints
from pdistill.train import train_and_evaluate
from crash_resume import crash_at, crash_then_resume
from tiny_configs import REPO, load_config_module, tiny

RATES, SEEDS = (2e-2, 5e-3), (0, 1)


def swept(method, **fields):
  c = tiny(method)
  c.sweep.update(learning_rates=RATES, seeds=SEEDS)
  c.student.update(**fields)
  return c


def member_params(sweep_dir, index):
  stacked, _ = checkpoints.load_latest_params(sweep_dir)
  return jax.tree.map(lambda a: np.asarray(a)[index], stacked)


def assert_member_equals_plain_run(config, sweep_dir, tmp_path, lr, seed):
  plain = sweep.member_config(config, lr, seed)
  plain_dir = str(tmp_path / f'plain_{lr}_{seed}')
  train_and_evaluate(plain, plain_dir)
  index = RATES.index(lr) * len(SEEDS) + SEEDS.index(seed)
  expected, _ = checkpoints.load_latest_params(plain_dir)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
               member_params(sweep_dir, index), expected)
  member_rows = metrics_log.read(sweep.member_dir(sweep_dir, lr, seed))
  plain_rows = metrics_log.read(plain_dir)
  assert [r['step'] for r in member_rows] == [r['step'] for r in plain_rows]
  np.testing.assert_allclose([r['eval_accuracy'] for r in member_rows],
                             [r['eval_accuracy'] for r in plain_rows], atol=2e-3)


@pytest.fixture(scope='module')
def teacher_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  train_and_evaluate(tiny('teacher'), workdir)
  return workdir


@pytest.fixture(scope='module')
def ce_sweep(tmp_path_factory):
  c = swept('ce', num_steps=1500)
  c.student.model.hidden = (64,)
  workdir = str(tmp_path_factory.mktemp('ce_sweep'))
  return c, workdir, train_and_evaluate(c, workdir)


def test_ce_sweep_learns_and_writes_a_run_per_member(ce_sweep):
  config, workdir, results = ce_sweep
  assert sorted(results) == sorted(os.path.join(f'lr_{lr:g}', f'seed_{s}')
                                   for lr in RATES for s in SEEDS)
  assert all(r['step'] == 1500 for r in results.values())
  # lr 2e-2 learns the n=12, k=2 parity in 1,500 steps on both seeds; 5e-3 is slower.
  fast = [results[os.path.join('lr_0.02', f'seed_{s}')]['eval_accuracy'] for s in SEEDS]
  assert min(fast) > 0.9, results
  for lr in RATES:
    for s in SEEDS:
      member = sweep.member_dir(workdir, lr, s)
      assert os.path.exists(os.path.join(member, 'config.json'))
      assert os.listdir(os.path.join(member, 'tensorboard'))
  table = open(os.path.join(workdir, 'sweep.md')).read()
  assert '| lr=0.02 | 2 |' in table and '| lr=0.005 | 2 |' in table
  assert os.path.getsize(os.path.join(workdir, 'sweep.png')) > 10_000


@pytest.mark.parametrize('lr,seed', [(2e-2, 1), (5e-3, 0)])
def test_ce_sweep_member_equals_the_plain_run(ce_sweep, tmp_path, lr, seed):
  config, workdir, _ = ce_sweep
  assert_member_equals_plain_run(config, workdir, tmp_path, lr, seed)


@pytest.mark.slow
def test_progressive_sweep_member_equals_the_plain_run(teacher_dir, tmp_path):
  c = swept('progressive', teacher_workdir=teacher_dir, num_steps=600)
  workdir = str(tmp_path / 'sweep')
  train_and_evaluate(c, workdir)
  rows = metrics_log.read(sweep.member_dir(workdir, 5e-3, 1))
  assert {r['teacher_step'] for r in rows if r['step'] > 0} == {1000, 3000}
  assert_member_equals_plain_run(c, workdir, tmp_path, 5e-3, 1)


@pytest.mark.slow
def test_an_adaptive_taid_sweep_member_equals_the_plain_run(teacher_dir, tmp_path):
  """Each member carries its own loss state (t, momentum) through the vmapped steps."""
  c = swept('one_shot', teacher_workdir=teacher_dir, num_steps=600, loss='taid', batch_size=8)
  c.student.loss_kw.update(t_schedule='adaptive', t_step_size=0.01)
  workdir = str(tmp_path / 'sweep')
  train_and_evaluate(c, workdir)
  stacked, _ = checkpoints.load_state(workdir)
  momentum = np.asarray(stacked['loss_state']['momentum'])
  assert momentum.shape == (len(RATES) * len(SEEDS),) and len(set(momentum)) == len(momentum)
  assert_member_equals_plain_run(c, workdir, tmp_path, 5e-3, 1)


def test_interrupted_sweep_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
  c = swept('ce', num_steps=1000)
  whole = str(tmp_path / 'whole')
  train_and_evaluate(c, whole)
  crashed = str(tmp_path / 'crashed')
  crash_then_resume(c, crashed, monkeypatch, crash_step=750)  # after the step-500 checkpoint
  jax.tree.map(np.testing.assert_array_equal, checkpoints.load_latest_params(whole)[0],
               checkpoints.load_latest_params(crashed)[0])
  for lr in RATES:
    for s in SEEDS:
      assert (metrics_log.read(sweep.member_dir(whole, lr, s)) ==
              metrics_log.read(sweep.member_dir(crashed, lr, s)))


def test_sweep_option_gives_the_papers_grid():
  c = load_config_module().get_config('ce,repro,sweep')
  assert c.sweep.learning_rates == (1e-2, 7.5e-3, 5e-3, 2.5e-3, 1e-3)
  assert c.sweep.seeds == (0, 1, 2)
  assert not load_config_module().get_config('ce,repro').sweep.learning_rates


@pytest.mark.parametrize('field,value,message', [
    ('learning_rates', (1e-2, -1.0), 'positive'),
    ('learning_rates', (1e-2, 1e-2), 'repeats'),
    ('seeds', (0, 0), 'repeats'),
])
def test_bad_sweep_fields_are_named(tmp_path, field, value, message):
  c = tiny('ce')
  c.sweep[field] = value
  with pytest.raises(ConfigError, match=f'sweep.{field}.*{message}'):
    train_and_evaluate(c, str(tmp_path / 'w'))
  assert not os.path.exists(tmp_path / 'w')


def test_a_pipeline_cannot_be_swept(tmp_path):
  c = tiny('pipeline')
  c.sweep.seeds = (0, 1)
  with pytest.raises(ConfigError, match='config.sweep: a sweep trains one method'):
    train_and_evaluate(c, str(tmp_path / 'w'))


def test_resuming_a_sweep_with_another_grid_is_refused(ce_sweep):
  config, workdir, _ = ce_sweep
  other = config.copy_and_resolve_references()
  other.sweep.seeds = (0, 1, 2)
  before = sorted(os.listdir(workdir))
  with pytest.raises(ConfigError, match='sweep.seeds'):
    train_and_evaluate(other, workdir)
  assert sorted(os.listdir(workdir)) == before


@pytest.mark.slow
def test_cpu_devices_flag_spreads_a_sweep_over_host_devices(tmp_path):
  """3 host devices for 3 members (the test session's 8 would leave them on one: gcd(3, 8))."""
  config = os.path.join(REPO, 'configs', 'parity_mlp.py')
  args = [sys.executable, '-m', 'pdistill.main', f'--config={config}:ce,smoke',
          '--config.student.num_steps=500', '--config.sweep.learning_rates=(0.02, 0.01, 0.005)',
          '--config.loop.eval_every_steps=250']
  spread = subprocess.run(args + ['--cpu_devices=3', f'--workdir={tmp_path / "spread"}'],
                          capture_output=True, text=True)
  assert spread.returncode == 0, spread.stderr
  assert '3 members in one program on 3 device(s)' in spread.stderr
  single = subprocess.run(args + [f'--workdir={tmp_path / "single"}'], capture_output=True,
                          text=True)
  assert '3 members in one program on 1 device(s)' in single.stderr
  for lr in (0.02, 0.01, 0.005):
    rows = [metrics_log.read(sweep.member_dir(str(tmp_path / d), lr, 0))
            for d in ('spread', 'single')]
    assert [r['step'] for r in rows[0]] == [0, 250, 500]
    np.testing.assert_allclose([r['eval_loss'] for r in rows[0]],
                               [r['eval_loss'] for r in rows[1]], rtol=1e-5)


def test_cpu_devices_must_be_positive():
  with pytest.raises(ValueError, match='--cpu_devices=0 must be at least 1'):
    multihost.use_cpu_devices(0)


def test_a_diverged_member_is_reported_and_the_others_go_on(tmp_path, caplog):
  c = tiny('ce')
  c.student.num_steps = 500
  c.sweep.update(learning_rates=(1e30, 2e-2), seeds=(0,))
  final = train_and_evaluate(c, str(tmp_path / 'one'))
  assert 'diverged at step 250' in caplog.text
  diverged, healthy = (metrics_log.read(sweep.member_dir(str(tmp_path / 'one'), lr, 0))
                       for lr in (1e30, 2e-2))
  assert np.isfinite(diverged[0]['eval_loss']) and not np.isfinite(diverged[1]['eval_loss'])
  assert [r['step'] for r in healthy] == [0, 250, 500]
  assert all(np.isfinite(list(r.values())).all() for r in healthy)
  assert final['lr_0.02/seed_0']['step'] == 500
  with open(tmp_path / 'one' / 'sweep.md') as f:
    table = f.read()
  # From step 250 on: not its NaN logits' accuracy.
  assert '| diverged | diverged |\n| lr=0.02 |' in table
  # Every member diverged: the sweep stops, as a plain run does.
  c.sweep.learning_rates = (1e30, 1e29)
  with pytest.raises(Diverged, match='diverged at step 250'):
    train_and_evaluate(c, str(tmp_path / 'all'))



def test_a_resumed_sweep_names_the_step_its_member_diverged_at(tmp_path, monkeypatch, caplog):
  c = tiny('ce')
  c.sweep.update(learning_rates=(1e30, 2e-2), seeds=(0,))
  crash_at(c, str(tmp_path), monkeypatch)  # stopped after its checkpoint 500
  caplog.clear()
  train_and_evaluate(c, str(tmp_path))
  assert 'diverged' not in caplog.text  # said at step 250, before the resume
