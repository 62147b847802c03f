"""Losses on logits; every function averages over all leading (example / position) axes.

Distillation uses cross-entropy against the teacher's softened distribution,
CE(p_T, q_S) = KL(p_T || q_S) + H(p_T): the forward KL up to a constant that does not depend on
the student, so both have the same gradient.  The temperature softens the teacher only (the
student's log-probabilities are taken at temperature 1, as in the reference code); a
temperature of 0 means the teacher's argmax (hard labels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cross_entropy(logits: jax.Array, labels: jax.Array, weights: jax.Array | None = None):
  """Mean CE of integer labels; ``weights`` (0/1 per example or position) selects what counts."""
  logp = jax.nn.log_softmax(logits)
  nll = -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
  return weighted_mean(nll, weights)


def teacher_targets(teacher_logits: jax.Array, temperature: float) -> jax.Array:
  """Teacher probabilities at ``temperature``; one-hot argmax when temperature == 0."""
  if temperature == 0:
    return jax.nn.one_hot(jnp.argmax(teacher_logits, -1), teacher_logits.shape[-1],
                          dtype=teacher_logits.dtype)
  return jax.nn.softmax(teacher_logits / temperature)


def soft_cross_entropy(logits: jax.Array, target_probs: jax.Array,
                       weights: jax.Array | None = None):
  ce = -jnp.sum(target_probs * jax.nn.log_softmax(logits), axis=-1)
  return weighted_mean(ce, weights)


def distillation_loss(logits, labels, teacher_logits, *, alpha: float, temperature: float,
                      weights=None):
  """alpha * CE(labels) + (1 - alpha) * CE(teacher at temperature, student)."""
  soft = soft_cross_entropy(logits, teacher_targets(teacher_logits, temperature), weights)
  if alpha == 0:
    return soft
  return alpha * cross_entropy(logits, labels, weights) + (1 - alpha) * soft


def accuracy(logits, labels, weights=None):
  return weighted_mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32), weights)


def weighted_mean(values, weights):
  if weights is None:
    return jnp.mean(values)
  weights = weights.astype(values.dtype)
  return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1)
