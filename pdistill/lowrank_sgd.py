"""Exact plain SGD for a one-hidden-layer MLP, K steps per pass over its first-layer matrix.

Batch-1 SGD on the parity MLP is memory-bound: every step reads the n x H matrix W1 for its
forward pass and reads and writes it again for its rank-1 update.  For plain SGD (the update
is a scalar times the gradient) K consecutive steps need only one pass of each.  With
``u_s = m_s * dL_s/dz_s`` (the step's multiplier, -lr, times the gradient of its hidden
pre-activations z) and X_s the step's inputs,

  W1 at step t = W1_0 + sum_{s<t} X_s^T u_s, so
  z_t = (X W1_0)[t] + b1_t + sum_{s<t} (X_t X_s^T) u_s

one matmul gives the pre-activations of the whole block, the Gram matrix X X^T corrects them
for the block's own earlier updates, and one rank-K update ends the block.  b1 is W1's row
for a constant input 1 (the Gram matrix + 1 corrects for it, one update ends the block);
W2 and b2 are small and take their step every step as usual.  The result is the same SGD: it differs
from the per-step path only by float rounding (summation order), which over long runs grows
the way it does between any two float implementations of SGD (a ReLU unit within rounding
of zero flips, and the runs drift apart).

The corrections are blocked recursively: the first half of a block is solved, its updates
corrected into the second half's pre-activations with one matmul, then the second half is
solved; at most ``LEAF_STEPS`` steps run one by one.  A step then touches O(log K) rows of H
floats instead of the block's K.

``make_run_steps`` gives the same ``run(state, steps, batches, rng) -> (state, metric sums)`` as
the per-step scan of ``steps.make_chunk_fn``, for the objectives ``supports`` accepts. The
caller decides that it applies: params ``{'Dense_0': {kernel, bias}, 'Dense_1': {kernel,
bias}}`` (``models.MLP`` with one hidden layer) and an optimizer whose update is a scalar times
the gradient and whose state does not depend on the params (optax ``sgd`` without momentum or
weight decay, also under ``inject_hyperparams``).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from pdistill import steps as steps_lib

# Steps run one by one at the bottom of the recursion, unrolled (no loop): measured
# 2026-12-02 with b1 folded into the corrections, steps/s relative to a 4-step loop (the
# previous default): H=50,000 +23% with 2 unrolled steps (+16% with 4 or 8, +17% with 1);
# H=1,000 within noise for 2 and 4 (+9% with 8).  Compiling is no slower (K=50: 8 s vs 6 s).
LEAF_STEPS = 2


def block_length(length: int, block_steps: int) -> int:
  """Steps per block for a chunk of ``length`` steps: the largest divisor of ``length`` not
  above ``block_steps`` if at least half of it (one compiled block serves the whole chunk),
  else ``block_steps`` (the remainder is a second, shorter block)."""
  best = steps_lib.largest_divisor_at_most(length, block_steps)
  return best if 2 * best >= min(length, block_steps) else block_steps


def supports(objective) -> bool:
  """Whether the block path trains ``objective``: any loss of the logits alone, not one that
  carries state from step to step (the steps of a block are solved out of order)."""
  return objective is None or not objective.stateful


def make_run_steps(tx: optax.GradientTransformation, block_steps: int,
                   objective=None) -> Callable:
  """``run(state, steps, batches, rng)``: steps minimising ``objective`` (a
  ``distill.divergences.Objective``, or None: CE on the labels), as ``steps.make_train_step``,
  K = ``block_steps`` at a time."""
  if not supports(objective):
    raise ValueError(f'the block SGD path cannot train {objective.name} with a stateful '
                     'schedule; use the per-step path')
  batch_loss = steps_lib.make_logits_loss(objective)
  logits_loss = lambda logits, batch: batch_loss(logits, batch)[0]

  def one_step(small, z, batch):
    """One SGD step of everything but W1, given the step's pre-activations without b1.

    Returns the new small params, the step's update of the pre-activations, and its logits
    (metrics are computed for a whole block at once).  W2 is held transposed
    ([classes, H]) inside a block: on a CPU the step's two passes over it are 2.5x faster
    when H is the contiguous axis (measured at H=50,000).
    """
    w2t, b2, opt_state = small

    def loss_fn(z, w2t, b2):
      logits = jnp.einsum('bh,ch->bc', jax.nn.relu(z), w2t) + b2
      return logits_loss(logits, batch), logits

    (gz, gw2t, gb2), logits = jax.grad(loss_fn, argnums=(0, 1, 2), has_aux=True)(z, w2t, b2)
    # The optimizer's update of a unit gradient is its multiplier (-lr at this step).
    multiplier, opt_state = tx.update(jnp.ones((), gz.dtype), opt_state)
    small = (w2t + multiplier * gw2t, b2 + multiplier * gb2, opt_state)
    return small, multiplier * gz, logits

  def leaf(small, z, gram, batches):
    """A few steps one by one (unrolled); each step's update is added at once to the
    pre-activations of the leaf's steps."""

    def body(carry, t):
      small, z = carry
      small, u, logits = one_step(small, z[t], jax.tree.map(lambda a: a[t], batches))
      # Rows up to t are used already: updating them too is harmless and saves a select.
      z = z + jnp.einsum('kbc,ch->kbh', gram[:, :, t, :], u)
      return (small, z), (u, logits)

    (small, _), (u, logits) = jax.lax.scan(body, (small, z), jnp.arange(z.shape[0]),
                                           unroll=True)
    return small, u, logits

  def solve(small, z, gram, batches):
    """Steps of z [S, B, H] (pre-activations so far) and gram [S, B, S, B] in order; returns
    the small params, the updates u [S, B, H] and the logits [S, B, C]."""
    k = z.shape[0]
    if k <= LEAF_STEPS:
      return leaf(small, z, gram, batches)
    h = k // 2
    first = jax.tree.map(lambda a: a[:h], batches)
    second = jax.tree.map(lambda a: a[h:], batches)
    small, u1, logits1 = solve(small, z[:h], gram[:h, :, :h], first)
    z2 = z[h:] + jnp.einsum('kbjc,jch->kbh', gram[h:, :, :h], u1)
    small, u2, logits2 = solve(small, z2, gram[h:, :, h:], second)
    return small, jnp.concatenate([u1, u2]), jnp.concatenate([logits1, logits2])

  def block(carry, batches):
    """K steps: one pass over W1 for their forward, one for their update."""
    state, sums = carry
    params = state.params
    w1 = params['Dense_0']['kernel']
    x = batches['inputs'].astype(w1.dtype)
    b1 = params['Dense_0']['bias']
    z = jnp.einsum('kbn,nh->kbh', x, w1) + b1
    # b1 is W1's row for a constant input 1: its updates are corrected into z with the rest
    # (Gram + 1) and applied once at the block's end, so a step never touches it.
    gram = jnp.einsum('kbn,jcn->kbjc', x, x) + 1
    small = (params['Dense_1']['kernel'].T, params['Dense_1']['bias'], state.opt_state)
    targets = {k: v for k, v in batches.items() if k != 'inputs'}  # what a step reads
    (w2t, b2, opt_state), u, logits = solve(small, z, gram, targets)
    metrics = jax.vmap(lambda lg, b: steps_lib.step_metrics(logits_loss(lg, b), lg, b))(
        logits, batches)
    sums = jax.tree.map(lambda s, m: s + jnp.sum(m), sums, metrics)
    # b1's update as a matmul too: as a reduction XLA fused it into u's producers and ran
    # the H=50,000 block 30% slower (measured).
    ones = jnp.ones(u.shape[:2], u.dtype)
    params = {'Dense_0': {'kernel': w1 + jnp.einsum('kbn,kbh->nh', x, u),
                          'bias': b1 + jnp.einsum('kb,kbh->h', ones, u)},
              'Dense_1': {'kernel': w2t.T, 'bias': b2}}
    state = state.replace(step=state.step + z.shape[0], params=params, opt_state=opt_state)
    return (state, sums), None

  def run(state, steps, batches, rng):
    del steps, rng  # the MLP has no stochastic layers
    length = jax.tree.leaves(batches)[0].shape[0]
    k = block_length(length, block_steps)
    full = length // k * k
    loss_dtype = state.params['Dense_0']['kernel'].dtype  # as the per-step path's
    carry = (state, {'loss': jnp.zeros((), loss_dtype), 'accuracy': jnp.zeros((), jnp.float32)})
    carry, _ = jax.lax.scan(
        block, carry, jax.tree.map(lambda a: a[:full].reshape((full // k, k) + a.shape[1:]),
                                   batches))
    if full < length:
      carry, _ = block(carry, jax.tree.map(lambda a: a[full:], batches))
    return carry

  return run
