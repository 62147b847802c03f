"""ReLU MLP d -> H -> ... -> num_labels, initialised like torch.nn.Linear (the reference's model)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def torch_linear_bias_init(fan_in: int):
  """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch.nn.Linear's bias init."""
  bound = fan_in ** -0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


# variance_scaling(1/3, fan_in, uniform) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's
# kaiming_uniform(a=sqrt(5)) weight init.
torch_linear_kernel_init = nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform')


class MLP(nn.Module):
  hidden: Sequence[int]
  num_labels: int

  @nn.compact
  def __call__(self, x, return_hidden: bool = False):
    hiddens = []
    for i, width in enumerate(tuple(self.hidden) + (self.num_labels,)):
      fan_in = x.shape[-1]
      x = nn.Dense(width, kernel_init=torch_linear_kernel_init,
                   bias_init=torch_linear_bias_init(fan_in), name=f'Dense_{i}')(x)
      if i < len(self.hidden):
        x = nn.relu(x)
        hiddens.append(x)
    return (x, hiddens) if return_hidden else x


# Hidden units per block of ``logits_by_hidden_blocks``: at H=50,000 and 1,024 rows, 250 ran
# 2.4x the plain forward, 500 2.0x, 1,000 1.7x (benchmarks/RESULTS.md).
HIDDEN_BLOCK = 250


def logits_by_hidden_blocks(params, x, block: int = HIDDEN_BLOCK):
  """The logits of a one-hidden-layer ``MLP`` (its params), summed over blocks of hidden units.

  A wide teacher's [rows, H] activations (200 MB for 1,024 rows at H=50,000) never exist at
  once, so the forward stays in cache.  The same function as ``MLP.apply`` up to float
  rounding (the order of the output layer's sum).
  """
  w1, b1 = params['Dense_0']['kernel'], params['Dense_0']['bias']
  w2, b2 = params['Dense_1']['kernel'], params['Dense_1']['bias']
  n, hidden = w1.shape
  x = x.astype(w1.dtype)
  if hidden <= block:
    return nn.relu(x @ w1 + b1) @ w2 + b2
  pad = -hidden % block  # zero units add nothing: relu(0) = 0
  w1, b1 = jnp.pad(w1, ((0, 0), (0, pad))), jnp.pad(b1, (0, pad))
  w2 = jnp.pad(w2, ((0, pad), (0, 0)))
  blocks = (hidden + pad) // block
  parts = (w1.reshape(n, blocks, block).transpose(1, 0, 2), b1.reshape(blocks, block),
           w2.reshape(blocks, block, w2.shape[1]))

  def add_block(logits, part):
    w1_part, b1_part, w2_part = part
    return logits + nn.relu(x @ w1_part + b1_part) @ w2_part, None

  zeros = jnp.zeros(x.shape[:-1] + (w2.shape[1],), w1.dtype)
  return jax.lax.scan(add_block, zeros, parts)[0] + b2


def apply_by_hidden_blocks(variables, x):
  """``logits_by_hidden_blocks`` with ``MLP.apply``'s signature (a teacher's ``apply``)."""
  return logits_by_hidden_blocks(variables['params'], x)

