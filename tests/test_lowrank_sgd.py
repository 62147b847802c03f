"""lowrank_sgd: K steps per pass over W1 are the same SGD as the per-step path.

The long comparisons run in float64: in float32 the two paths round differently, a ReLU unit
within rounding of zero now and then flips, and from there two correct SGD runs drift apart
(measured: 7e-5 after 1,000 steps at H=1,000); float64 keeps that far beyond 2,000 steps,
so what is compared is the algebra.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from pdistill import lowrank_sgd, optimizers, steps
from pdistill.distill import divergences
from pdistill.config import LOSS_DEFAULTS, builders
from pdistill.data import tasks
from pdistill.engine import chunks
from pdistill.models.mlp import MLP

import tiny_configs

N = 100


def _optim(lr_schedule='constant', warmup_frac=0.0, learning_rate=5e-3):
  return builders.optimizer('sgd', learning_rate, lr_schedule, warmup_frac)


def _teacher_apply():
  model = MLP(hidden=(64,), num_labels=2)
  params = model.init(jax.random.key(7), jnp.zeros((1, N)))['params']
  return model.apply, {'params': jax.tree.map(lambda a: (3 * a)[None], params)}  # confident


def _both_paths(hidden, num_steps, optim, *, distill=False, seeds=(0,), learning_rates=None,
                block_steps=8, loss='forward_kl'):
  """Params after ``num_steps`` (one chunk) by the per-step scan and by lowrank_sgd."""
  task = tasks.build(ml_collections.ConfigDict(builders.parity_data(N, 6, eval_seed=0)), 1)
  model = MLP(hidden=(hidden,), num_labels=2)
  sweep = learning_rates is not None
  tx = (optimizers.make_sweep_optimizer(optim, num_steps) if sweep
        else optimizers.make_optimizer(optim, num_steps))
  teacher_apply, stack = _teacher_apply() if distill else (None, None)

  def state(seed, lr=None):
    params = model.init(jax.random.key(seed), jnp.zeros((1, N)))['params']
    s = steps.create_state(jax.tree.map(lambda a: a.astype(jnp.float64), params), tx)
    return s.replace(opt_state=optimizers.set_learning_rate(s.opt_state, lr)) if sweep else s

  if sweep:
    states = [state(s, lr) for s, lr in zip(seeds, learning_rates)]
    init = jax.tree.map(lambda *a: jnp.stack(a), *states)
    chunk_input = task.chunk_input(seeds, 0, num_steps)
    rng = jax.random.split(jax.random.key(0), len(seeds))
  else:
    init = state(seeds[0])
    chunk_input = jax.tree.map(lambda a: a[0], task.chunk_input(seeds, 0, num_steps))
    rng = jax.random.key(0)
  objective = divergences.Objective(loss, alpha=0.0, kw=dict(LOSS_DEFAULTS['loss_kw']),
                                    num_steps=num_steps) if distill else None
  step = steps.make_train_step(model.apply, tx, objective)
  low = lowrank_sgd.make_run_steps(tx, block_steps, objective)
  out = []
  for run_steps in (None, low):
    chunk = steps.make_chunk_fn(step, task.batches, teacher_apply=teacher_apply,
                                run_steps=run_steps,
                                steps_in_batches=objective is not None and objective.reads_step)
    if sweep:
      chunk = steps.member_chunk(chunk)
    out.append(jax.jit(chunk)(init, stack, jnp.zeros((1,), jnp.int32), chunk_input, rng, 0))
  return init, out


def _assert_same(init, out):
  (a, metrics_a), (b, metrics_b) = out
  assert int(np.max(a.step)) == int(np.max(b.step))
  moved = max(float(jnp.max(jnp.abs(x - y)))
              for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(init.params)))
  assert moved > 1e-3  # the comparison is not of two untouched models
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(y, np.float64), np.asarray(x, np.float64), rtol=0,
                               atol=1e-5)
  for key in metrics_a:
    np.testing.assert_allclose(metrics_b[key], metrics_a[key], rtol=0, atol=1e-6)


def test_a_teacher_equals_the_per_step_path_over_2000_steps():
  with jax.enable_x64(True):
    _assert_same(*_both_paths(1_000, 2_000, _optim(), block_steps=16))


def test_a_one_shot_student_equals_the_per_step_path_over_2000_steps():
  with jax.enable_x64(True):
    _assert_same(*_both_paths(200, 2_000, _optim('cosine', 0.06, 1e-2), distill=True))


def test_sweep_members_equal_the_per_step_path_over_2000_steps():
  """Three CE students with warmup + cosine, each its own learning rate; 2,003 is prime, so
  the chunk ends with a block of 3 steps."""
  with jax.enable_x64(True):
    _assert_same(*_both_paths(100, 2_003, _optim('cosine', 0.06), seeds=(0, 1, 2),
                              learning_rates=(5e-3, 1e-2, 2.5e-3)))


def test_equals_the_per_step_path_at_width_50000():
  with jax.enable_x64(True):
    _assert_same(*_both_paths(50_000, 200, _optim()))


def test_blocks_divide_the_chunk_when_they_can():
  assert lowrank_sgd.block_length(5_000, 64) == 50
  assert lowrank_sgd.block_length(1_000, 64) == 50
  assert lowrank_sgd.block_length(7, 64) == 7
  assert lowrank_sgd.block_length(131, 64) == 64  # prime: 2 blocks of 64, then 3 steps
  assert lowrank_sgd.block_length(35, 16) == 16  # 7 is too short: 2 blocks of 16, then 3
  assert lowrank_sgd.block_length(2_003, 16) == 16


def test_it_is_chosen_for_one_hidden_layer_mlps_under_plain_sgd():
  config = tiny_configs.tiny('teacher')
  assert chunks.sgd_block_steps(config) > 0  # so the resume and 8-device tests cover it
  for field, value in [('optim.momentum', 0.9), ('optim.weight_decay', 1e-4),
                       ('optim.name', 'adam'), ('model.hidden', (16, 16))]:
    c = tiny_configs.tiny('teacher')
    section, name = field.split('.')
    c.teacher[section][name] = value
    assert chunks.sgd_block_steps(c) == 0, field
  c = tiny_configs.tiny('teacher', sgd_block_steps=0)
  assert chunks.sgd_block_steps(c) == 0
