import jax.numpy as jnp
import numpy as np
import pytest

from pdistill import losses


def np_log_softmax(z):
  z = z - z.max(-1, keepdims=True)
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.fixture
def logits():
  rng = np.random.default_rng(0)
  return (rng.normal(size=(6, 3)).astype(np.float32), rng.integers(0, 3, 6),
          rng.normal(size=(6, 3)).astype(np.float32))


def test_cross_entropy_matches_numpy(logits):
  z, y, _ = logits
  expected = -np_log_softmax(z)[np.arange(6), y].mean()
  np.testing.assert_allclose(losses.cross_entropy(jnp.asarray(z), jnp.asarray(y)), expected,
                             rtol=1e-6)


def test_weighted_cross_entropy_counts_only_selected(logits):
  z, y, _ = logits
  w = np.array([1, 0, 1, 0, 0, 1])
  expected = -np_log_softmax(z)[np.arange(6), y][w == 1].mean()
  np.testing.assert_allclose(losses.cross_entropy(z, y, jnp.asarray(w)), expected, rtol=1e-6)


@pytest.mark.parametrize('alpha,temperature', [(0.0, 1.0), (0.3, 2.0), (1.0, 0.5)])
def test_distillation_loss_matches_numpy(logits, alpha, temperature):
  z, y, t = logits
  p_t = np.exp(np_log_softmax(t / temperature))
  soft = -(p_t * np_log_softmax(z)).sum(-1).mean()
  hard = -np_log_softmax(z)[np.arange(6), y].mean()
  got = losses.distillation_loss(z, y, t, alpha=alpha, temperature=temperature)
  np.testing.assert_allclose(got, alpha * hard + (1 - alpha) * soft, rtol=1e-5)


def test_soft_ce_is_forward_kl_plus_teacher_entropy(logits):
  z, _, t = logits
  p_t = np.exp(np_log_softmax(t))
  kl = (p_t * (np_log_softmax(t) - np_log_softmax(z))).sum(-1).mean()
  entropy = -(p_t * np_log_softmax(t)).sum(-1).mean()
  np.testing.assert_allclose(losses.soft_cross_entropy(z, p_t), kl + entropy, rtol=1e-5)


def test_zero_temperature_is_teacher_argmax(logits):
  z, _, t = logits
  expected = -np_log_softmax(z)[np.arange(6), t.argmax(-1)].mean()
  got = losses.distillation_loss(z, np.zeros(6, int), t, alpha=0.0, temperature=0.0)
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_accuracy(logits):
  z, y, _ = logits
  np.testing.assert_allclose(losses.accuracy(z, y), (z.argmax(-1) == y).mean())
