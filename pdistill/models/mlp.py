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
