"""One SGD step of the MLP (CE and distillation) against a hand-written numpy step."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from pdistill import optimizers, steps
from pdistill.distill import divergences
from pdistill.models.mlp import MLP


def np_softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_sgd_step(p, x, target_probs, lr):
  """Gradient of mean_b CE(target_b, softmax(MLP(x_b))) for a 1-hidden-layer ReLU MLP, by hand."""
  w1, b1, w2, b2 = p['Dense_0']['kernel'], p['Dense_0']['bias'], p['Dense_1']['kernel'], p[
      'Dense_1']['bias']
  pre = x @ w1 + b1
  h = np.maximum(pre, 0)
  dz = (np_softmax(h @ w2 + b2) - target_probs) / len(x)
  dh = dz @ w2.T * (pre > 0)
  return {'Dense_0': {'kernel': w1 - lr * x.T @ dh, 'bias': b1 - lr * dh.sum(0)},
          'Dense_1': {'kernel': w2 - lr * h.T @ dz, 'bias': b2 - lr * dz.sum(0)}}


def sgd(lr):
  return ml_collections.ConfigDict(dict(name='sgd', learning_rate=lr, lr_schedule='constant',
                                        warmup_frac=0.0, momentum=0.0, weight_decay=0.0))


@pytest.fixture
def setup():
  model = MLP(hidden=(7,), num_labels=3)
  rng = np.random.default_rng(0)
  x = rng.choice([-1.0, 1.0], size=(4, 5)).astype(np.float32)
  params = model.init(jax.random.key(0), x)['params']
  return model, x, rng.integers(0, 3, 4), rng.normal(size=(4, 3)).astype(np.float32), params


def _check(new_params, expected):
  for layer in expected:
    for name in expected[layer]:
      np.testing.assert_allclose(new_params[layer][name], expected[layer][name], rtol=1e-5,
                                 atol=1e-6)


def test_ce_sgd_step_matches_numpy(setup):
  model, x, y, _, params = setup
  tx = optimizers.make_optimizer(sgd(0.1), 10)
  step = steps.make_train_step(model.apply, tx)
  state, metrics = step(steps.create_state(params, tx), {'inputs': x, 'labels': y}, None)
  np_params = jax.tree.map(np.asarray, params)
  _check(state.params, np_sgd_step(np_params, x, np.eye(3)[y], 0.1))
  assert int(state.step) == 1


def test_distillation_sgd_step_matches_numpy(setup):
  model, x, y, teacher_logits, params = setup
  alpha, temperature = 0.25, 2.0
  tx = optimizers.make_optimizer(sgd(0.05), 10)
  step = steps.make_train_step(
      model.apply, tx, divergences.Objective('forward_kl', alpha=alpha, temperature=temperature))
  batch = {'inputs': x, 'labels': y, steps.TEACHER_LOGITS: teacher_logits}
  state, _ = step(steps.create_state(params, tx), batch, None)
  targets = alpha * np.eye(3)[y] + (1 - alpha) * np_softmax(teacher_logits / temperature)
  _check(state.params, np_sgd_step(jax.tree.map(np.asarray, params), x, targets, 0.05))


def test_mlp_init_is_torch_linear_uniform():
  params = MLP(hidden=(4000,), num_labels=2).init(jax.random.key(0), np.zeros((1, 100)))['params']
  w = np.asarray(params['Dense_0']['kernel'])
  b = np.asarray(params['Dense_0']['bias'])
  bound = 100 ** -0.5
  assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
  assert np.abs(b).max() <= bound and np.abs(b).max() > 0.99 * bound
  np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.01)


def test_warmup_then_cosine_schedule_matches_reference_formula():
  optim = sgd(1e-2)
  optim.update(lr_schedule='cosine', warmup_frac=0.1)
  schedule = optimizers.learning_rate_schedule(optim, 100)
  for s in [0, 5, 9, 10, 50, 99]:
    if s < 10:
      expected = 1e-2 * (s + 1) / 10
    else:
      expected = 1e-2 * 0.5 * (1 + np.cos(np.pi * (s - 10) / 90))
    np.testing.assert_allclose(schedule(s), expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize('rows,group', [(12, 6), (13, 8), (3334, 8)])
def test_apply_in_batches_equals_one_call_whatever_the_row_count(rows, group):
  w = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
  x = np.random.default_rng(1).normal(size=(rows, 5)).astype(np.float32)
  calls = []

  def fn(group):
    calls.append(group.shape[0])
    return jnp.tanh(group @ w)

  out = steps.apply_in_batches(fn, jnp.asarray(x), 8)
  np.testing.assert_allclose(out, np.tanh(x @ w), rtol=1e-6, atol=1e-6)
  # a divisor of at least half the bound (12 = 2 x 6), else padded groups of 8
  assert out.shape == (rows, 3) and calls == [group]
