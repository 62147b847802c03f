"""The public API (pdistill.fit, make_config, Data, load_run) with a user's own Linen model:
dropout, BatchNorm statistics, round trips, and the command line on an API teacher."""

import json
import os
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pdistill
from pdistill import steps
from pdistill.metrics import log as metrics_log
from pdistill.models import MLP, calls
from pdistill.storage import checkpoints, trajectory
from crash_resume import crash_then_resume
from tiny_configs import REPO, tiny


class Net(nn.Module):
  width: int = 32
  dropout: float = 0.2

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Dense(self.width)(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
    x = nn.Dropout(self.dropout, deterministic=not train)(nn.relu(x))
    return nn.Dense(2)(x)


def parity_data(n: int = 8, k: int = 2, batch_size: int = 16) -> pdistill.Data:
  def draw(rng, rows):
    x = rng.choice(np.array([-1.0, 1.0], np.float32), size=(rows, n))
    return {'inputs': x, 'labels': (np.prod(x[:, :k], axis=1) < 0).astype(np.int32)}
  return pdistill.Data(batch=lambda seed, step: draw(np.random.default_rng([seed, step]),
                                                     batch_size),
                       eval_set=draw(np.random.default_rng(99), 256), num_outputs=2)


def device_parity(n: int = 8, k: int = 2, batch_size: int = 16) -> pdistill.Data:
  def batch(seed, step):  # traced inside the compiled chunk
    key = jax.random.fold_in(jax.random.key(seed), step)
    x = jax.random.rademacher(key, (batch_size, n), jnp.float32)
    return {'inputs': x, 'labels': (jnp.prod(x[:, :k], axis=1) < 0).astype(jnp.int32)}
  return pdistill.Data(batch=batch, eval_set=parity_data(n, k).eval_set, num_outputs=2,
                       on_device=True)


# Evals and checkpoints a few times per run (fit's default, 20 of each, costs more than the
# tiny runs' steps).
FEW = dict(chunk_steps=100, eval_every_steps=100, checkpoint_every_steps=200)


def _config(method='teacher', **overrides):
  kwargs = dict(method=method, model=Net(), data=parity_data, num_steps=600,
                learning_rate=3e-3, trajectory_every_steps=200, eval_every_steps=100,
                checkpoint_every_steps=100, chunk_steps=100)
  kwargs.update(overrides)
  return pdistill.make_config(**kwargs)


def _eval_accuracy(run, eval_set):
  return float(np.mean(np.argmax(run.apply(eval_set['inputs']), -1) == eval_set['labels']))


def test_dropout_masks_change_per_step_and_evaluation_is_deterministic():
  model, tx = Net(dropout=0.5), optax.sgd(0.1)
  batch = parity_data().batch(0, 0)
  params, state = calls.init(model, jax.random.key(0), batch['inputs'])
  assert set(state) == {'batch_stats'}
  step = steps.make_train_step(model, tx)
  start = steps.create_state(params, tx, state)
  key = jax.random.key(1)
  first, _ = step(start, batch, jax.random.fold_in(key, 0))
  again, _ = step(start, batch, jax.random.fold_in(key, 0))
  other, _ = step(start, batch, jax.random.fold_in(key, 1))
  jax.tree.map(np.testing.assert_array_equal, first.params, again.params)
  assert not np.array_equal(first.params['Dense_1']['kernel'], other.params['Dense_1']['kernel'])
  assert not np.allclose(first.model_state['batch_stats']['BatchNorm_0']['mean'], 0)

  # The fused chunk gives step s the rng fold_in(rng, s): two steps on the same batch use two
  # different masks, exactly the ones the step gets by hand.
  two = jax.tree.map(lambda a: jnp.stack([a, a]), batch)
  scanned, _ = steps.scan_steps(step)(start, jnp.arange(2), two, key)
  by_hand = step(first, batch, jax.random.fold_in(key, 1))[0]
  same_mask = step(first, batch, jax.random.fold_in(key, 0))[0]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
               scanned.params, by_hand.params)  # compiled vs eager: rounding only
  kernel = lambda s: s.params['Dense_1']['kernel']
  assert np.abs(kernel(scanned) - kernel(same_mask)).max() > 1e-3

  evaluate = jax.jit(steps.make_eval_fn(calls.eval_apply(model), 64))
  variables = steps.variables(first)
  eval_set = parity_data().eval_set
  a, b = evaluate(variables, eval_set), evaluate(variables, eval_set)
  assert a == b
  np.testing.assert_array_equal(calls.eval_apply(model)(variables, eval_set['inputs']),
                                model.apply(variables, eval_set['inputs'], train=False))


def test_batchnorm_statistics_survive_checkpoint_and_resume_bit_identically(tmp_path,
                                                                            monkeypatch):
  config = _config()
  whole, crashed = str(tmp_path / 'whole'), str(tmp_path / 'crashed')
  pdistill.train_and_evaluate(config, whole)
  crash_then_resume(config, crashed, monkeypatch, crash_step=300)  # after the 200 checkpoint
  a, b = pdistill.load_run(whole), pdistill.load_run(crashed)
  assert a.step == b.step == 600
  jax.tree.map(np.testing.assert_array_equal, (a.params, a.model_state),
               (b.params, b.model_state))
  stats = a.model_state['batch_stats']['BatchNorm_0']
  assert not np.allclose(stats['mean'], 0) and not np.allclose(stats['var'], 1)
  assert metrics_log.read(whole) == metrics_log.read(crashed)
  assert metrics_log.read(whole)[-1]['eval_accuracy'] > 0.9  # it learned


def test_load_run_round_trips_for_a_teacher_a_student_and_a_sweep_member(tmp_path):
  eval_set = parity_data().eval_set
  teacher = str(tmp_path / 'teacher')
  pdistill.fit(teacher, method='teacher', model=Net(), data=parity_data, num_steps=600,
               learning_rate=3e-3, trajectory_every_steps=200, show_progress=False, **FEW)
  student = str(tmp_path / 'student')
  pdistill.fit(student, method='progressive', model=Net(width=8), data=parity_data,
               num_steps=400, learning_rate=3e-3, teacher_workdir=teacher,
               schedule=dict(kind='manual', checkpoints=(200, -1), steps_per_checkpoint=(100,)),
               show_progress=False, **FEW)
  sweep = str(tmp_path / 'sweep')
  config = _config('ce', num_steps=300, trajectory_every_steps=0)
  config.sweep.seeds = (0, 1)
  pdistill.train_and_evaluate(config, sweep)
  member = os.path.join(sweep, 'lr_0.003', 'seed_1')

  for workdir in (teacher, student, member):
    run = pdistill.load_run(workdir)
    assert isinstance(run.model, Net) and set(run.model_state) == {'batch_stats'}
    last = metrics_log.read(workdir)[-1]
    assert run.step == last['step']
    assert _eval_accuracy(run, eval_set) == pytest.approx(last['eval_accuracy'], abs=1e-6)
    assert run.config.method == json.load(open(os.path.join(workdir, 'config.json')))['method']

  at_200 = pdistill.load_run(teacher, step=200)
  jax.tree.map(np.testing.assert_array_equal, at_200.params,
               trajectory.load_params(teacher, 200))
  stacked, _ = checkpoints.load_latest_params(sweep)
  jax.tree.map(lambda s, m: np.testing.assert_array_equal(s[1], m), stacked,
               pdistill.load_run(member).params)
  with pytest.raises(ValueError, match='no trajectory point or checkpoint at step 150'):
    pdistill.load_run(teacher, step=150)


def test_an_api_student_distils_from_a_command_line_teacher(tmp_path):
  teacher = str(tmp_path / 'teacher')
  pdistill.train_and_evaluate(tiny('teacher'), teacher)
  with open(os.path.join(teacher, 'config.json')) as f:
    saved = json.load(f)
  student = str(tmp_path / 'student')
  final = pdistill.fit(student, method='one_shot', model=MLP(hidden=(16,), num_labels=2),
                       data=saved['data'], batch_size=1, optimizer='sgd', learning_rate=1e-2,
                       num_steps=2000, teacher_workdir=teacher, show_progress=False, **FEW)
  assert final['eval_accuracy'] > 0.9
  with pytest.raises(pdistill.config.ConfigError, match='data.k'):
    pdistill.fit(str(tmp_path / 'other'), method='one_shot', model=MLP((16,), 2),
                 data={**saved['data'], 'k': 3}, batch_size=1, num_steps=100,
                 teacher_workdir=teacher, show_progress=False)


@pytest.mark.slow
def test_the_example_runs_and_the_command_line_distils_from_its_teacher(tmp_path):
  workdir = str(tmp_path / 'example')
  example = subprocess.run([sys.executable, os.path.join(REPO, 'examples', 'progressive_custom.py'),
                            f'--workdir={workdir}', '--tiny'], capture_output=True, text=True)
  assert example.returncode == 0, example.stderr[-3000:]
  assert 'auto schedule: teacher transition at steps' in example.stderr
  printed = {line.split()[0]: float(line.split()[-1]) for line in example.stdout.splitlines()}
  assert printed['teacher'] > 0.9 and printed['progressive'] > 0.9

  config = os.path.join(REPO, 'examples', 'progressive_custom_config.py')
  cli = [sys.executable, '-m', 'pdistill.main', f'--config={config}:one_shot,tiny',
         f'--config.student.teacher_workdir={workdir}/teacher']
  accepted = subprocess.run(cli + [f'--workdir={workdir}/one_shot'], capture_output=True,
                            text=True)
  assert accepted.returncode == 0, accepted.stderr[-3000:]
  assert metrics_log.read(f'{workdir}/one_shot')[-1]['eval_accuracy'] > 0.9
  refused = subprocess.run(cli + ['--config.data.kwargs.k=3', f'--workdir={workdir}/other'],
                           capture_output=True, text=True)
  assert refused.returncode == 2
  assert refused.stderr.strip().splitlines()[-1].startswith(
      "error: config.data.kwargs.k: is 3 but the teacher in")
  assert not os.path.exists(f'{workdir}/other')


@pytest.mark.parametrize('field,change', [
    ('teacher.model.module', lambda c: c.teacher.model.update(module='nowhere.at_all:Net')),
    ('teacher.model.kwargs', lambda c: c.teacher.model.kwargs.update(depth=3)),
    ('data.factory', lambda c: c.data.update(factory=f'{__name__}:no_such_function')),
    ('teacher.batch_size', lambda c: c.teacher.update(batch_size=8)),
    ('data.eval_size', lambda c: c.data.update(eval_size=100)),
])
def test_bad_references_and_sizes_are_refused_naming_the_field(field, change):
  from pdistill.validation import validate
  c = _config()
  change(c)
  with pytest.raises(pdistill.config.ConfigError, match=f'config.{field}: '):
    validate(c)


def test_curriculum_extraction_refuses_a_linen_student():
  from pdistill.validation import validate
  with pytest.raises(pdistill.config.ConfigError, match='config.student.model.name: curriculum'):
    validate(_config('curriculum', teacher_workdir='/some/teacher'))


def test_batches_drawn_on_device_train_a_teacher(tmp_path):
  final = pdistill.fit(str(tmp_path / 'teacher'), method='teacher', model=Net(),
                       data=device_parity, num_steps=600, learning_rate=3e-3,
                       trajectory_every_steps=300, show_progress=False, **FEW)
  assert final['eval_accuracy'] > 0.9


CALLS = []


def counted_parity_data(n: int = 8, k: int = 2, batch_size: int = 16) -> pdistill.Data:
  CALLS.append((n, k))
  return parity_data(n, k, batch_size)


def test_fit_calls_the_data_factory_once_for_a_teacher_and_its_students(tmp_path):
  """Validation hands the Data it built to the runs (a pipeline's too)."""
  CALLS.clear()
  pdistill.fit(str(tmp_path / 'teacher'), method='teacher', model=MLP((16,), 2),
               data=counted_parity_data, num_steps=200, learning_rate=3e-3,
               trajectory_every_steps=100, show_progress=False, **FEW)
  assert CALLS == [(8, 2)]
  CALLS.clear()
  pdistill.fit(str(tmp_path / 'student'), method='one_shot', model=MLP((8,), 2),
               data=counted_parity_data, num_steps=100, learning_rate=3e-3,
               teacher_workdir=str(tmp_path / 'teacher'), loss='jsd', show_progress=False, **FEW)
  assert CALLS == [(8, 2)]


SCRIPT = '''
import flax.linen as nn
import pdistill


class Net(nn.Module):
  width: int = 32
  dropout: float = 0.2

  @nn.compact
  def __call__(self, x, train: bool = False):
    return nn.Dense(2)(nn.relu(nn.Dense(self.width)(x)))


pdistill.fit('{workdir}', method='teacher', model=Net(), data=None, num_steps=10)
'''


def test_load_run_refuses_a_script_that_trains_when_imported(tmp_path):
  workdir = str(tmp_path / 'teacher')
  pdistill.fit(workdir, method='teacher', model=Net(), data=parity_data, num_steps=100,
               learning_rate=3e-3, trajectory_every_steps=100, show_progress=False, **FEW)
  script = tmp_path / 'train.py'  # the same model, in a script without a __main__ guard
  script.write_text(SCRIPT.format(workdir=workdir))
  with open(os.path.join(workdir, 'config.json')) as f:
    saved = json.load(f)
  saved['teacher']['model']['module'] = f'{script}:Net'
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    json.dump(saved, f)
  before = metrics_log.read(workdir)
  with pytest.raises(pdistill.config.ConfigError,
                     match=r'train.py calls pdistill.fit when imported.*__main__'):
    pdistill.load_run(workdir)
  assert metrics_log.read(workdir) == before
