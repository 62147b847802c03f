"""models.mlp: the torch-like init is tested in test_steps; here the blocked wide forward."""

import jax
import jax.numpy as jnp
import numpy as np

from pdistill.models import mlp


def test_logits_by_hidden_blocks_equal_the_model():
  hidden, block = 1_000, 64  # 16 blocks, the last one padded
  model = mlp.MLP(hidden=(hidden,), num_labels=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, 20)))['params']
  x = jax.random.rademacher(jax.random.key(1), (64, 20), dtype=jnp.float32)
  expected = np.asarray(model.apply({'params': params}, x))
  got = np.asarray(jax.jit(mlp.logits_by_hidden_blocks, static_argnums=2)(params, x, block))
  assert np.abs(expected).max() > 0.1
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
