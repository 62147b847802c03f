"""Pure training and evaluation steps, and the fused multi-step chunk that jit compiles.

A step is ``(state, batch, rng) -> (state, metrics)``; ``rng`` drives the model's dropout
(``models.calls``: a model taking ``train`` gets ``train=True`` and a ``dropout`` rng in
training), and the state carries the model's non-param collections (BatchNorm statistics).  A batch holds ``inputs``, ``labels``,
optionally ``weights`` (which positions count) and, when distilling, the teacher's targets:
``teacher_logits`` (``TEACHER_LOGITS``), or in a curriculum's hidden stages the projected
teacher features (``TEACHER_FEATURES``).

A chunk runs many steps inside one jit call (``lax.scan``):
``chunk(state, teacher_stack, starts, chunk_input, rng, start_step) -> (state, mean metrics)``;
the task's ``batches(chunk_input)`` gives the batches of its steps, stacked on a leading axis
(``data.tasks``: drawn on device inside the chunk, or made on the host beforehand).  When
distilling, the teacher checkpoint is picked from the stacked trajectory by the schedule
position of the chunk's first step (inside jit) and its outputs for the whole chunk come from
one batched forward pass before the scan: a batch-1 teacher forward inside the scan is
memory-bound and about 3.5x slower (../shared/perf_baseline.md, section 7).  The training loop
never lets a chunk straddle a teacher switch, so this is exact.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax

from pdistill import losses
from pdistill.models import calls

TEACHER_LOGITS = 'teacher_logits'
TEACHER_FEATURES = 'teacher_features'
STEP = 'step'  # the step a batch trains, in the batches of a loss that reads it


class TrainState(flax.struct.PyTreeNode):
  step: jax.Array
  params: Any
  opt_state: Any
  model_state: Any = flax.struct.field(default_factory=dict)  # e.g. {'batch_stats': ...}
  loss_state: Any = flax.struct.field(default_factory=dict)  # e.g. adaptive taid's t


def create_state(params, tx: optax.GradientTransformation, model_state=None,
                 loss_state=None) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                    model_state=model_state or {}, loss_state=loss_state or {})


def variables(state: TrainState) -> dict:
  """What ``apply`` takes: the params and the model's other collections."""
  return calls.join(state.params, state.model_state)


def make_step(loss_fn: Callable, tx: optax.GradientTransformation):
  """``(state, batch, rng) -> (state, metrics)`` from ``loss_fn(params, batch, model_state,
  loss_state, rng) -> (loss, (logits, new model_state, new loss_state))``.

  Accuracy is always of ``logits`` against the batch's labels, whatever the loss trains.
  """

  def train_step(state: TrainState, batch, rng):
    (loss, (logits, model_state, loss_state)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params, batch, state.model_state, state.loss_state, rng)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return (state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                          model_state=model_state, loss_state=loss_state),
            step_metrics(loss, logits, batch))

  return train_step


def step_metrics(loss, logits, batch) -> dict:
  """A train step's metrics: its loss, and the accuracy of ``logits`` on the batch's labels."""
  return {'loss': loss, 'accuracy': losses.accuracy(logits, batch['labels'], batch.get('weights'))}


def make_train_step(model: nn.Module | Callable, tx: optax.GradientTransformation,
                    objective=None):
  """A step minimising ``objective`` (``pdistill.distill.divergences.objective``; default: CE
  on the labels).

  ``model``: a Linen module (called as ``models.calls`` says), or a plain
  ``apply(variables, inputs)`` of a model without state or dropout.
  """

  logits_loss = make_logits_loss(objective)

  def loss_fn(params, batch, model_state, loss_state, rng):
    if isinstance(model, nn.Module):
      logits, model_state = calls.train_apply(model, params, model_state, batch['inputs'], rng)
    else:
      logits = model(calls.join(params, model_state), batch['inputs'])
    loss, loss_state = logits_loss(logits, batch, loss_state)
    return loss, (logits, model_state, loss_state)

  return make_step(loss_fn, tx)


def make_logits_loss(objective=None):
  """``(logits, batch, loss_state) -> (loss, loss_state)``: ``objective.loss`` on a batch (its
  ``TEACHER_LOGITS`` when distilling, its ``STEP`` when the loss reads it), or CE on the
  labels without one."""

  def logits_loss(logits, batch, loss_state=None):
    if objective is None:
      return losses.cross_entropy(logits, batch['labels'], batch.get('weights')), loss_state
    return objective.loss(logits, batch['labels'], batch.get(TEACHER_LOGITS),
                          batch.get('weights'), batch.get(STEP), loss_state)

  return logits_loss


def position_in_jit(starts: jax.Array, step) -> jax.Array:
  """The schedule position in use at ``step`` (``distill.schedules.position``'s twin inside
  jit): the last of ``starts`` at or before it."""
  return jnp.sum(step >= starts) - 1


def all_finite(params, stacked: bool = False) -> jax.Array:
  """Whether every parameter is finite: one bool, or one per entry of a leading stacked axis
  (sweep members, or a teacher trajectory's schedule positions)."""
  def leaf(a):
    return jnp.all(jnp.isfinite(a), axis=tuple(range(1 if stacked else 0, a.ndim)))
  return jax.tree.reduce(jnp.logical_and, jax.tree.map(leaf, params))


def make_eval_fn(apply_fn: Callable, eval_batch_size: int, teacher_apply: Callable | None = None,
                 diagnostics: Callable | None = None):
  """``evaluate(variables, eval_set[, teacher_stack, position])``: mean loss and accuracy over
  a fixed eval set, in sub-batches so wide models fit in memory.  ``apply_fn``: evaluation
  mode (``models.calls.eval_apply``).  With ``teacher_apply`` (a distilled student's teacher,
  evaluation mode) it adds ``diagnostics(logits, teacher_logits, weights)`` (a dict of
  metrics) against the teacher checkpoint at ``position`` of ``teacher_stack``."""

  def evaluate(variables, eval_set, teacher_stack=None, position=None):
    logits = apply_in_batches(lambda x: apply_fn(variables, x), eval_set['inputs'],
                              eval_batch_size)
    weights = eval_set.get('weights')
    out = {'loss': losses.cross_entropy(logits, eval_set['labels'], weights),
           'accuracy': losses.accuracy(logits, eval_set['labels'], weights)}
    if teacher_apply is not None:
      teacher = jax.tree.map(lambda a: a[position], teacher_stack)
      teacher_logits = apply_in_batches(lambda x: teacher_apply(teacher, x),
                                        eval_set['inputs'], eval_batch_size)
      out.update(diagnostics(logits, teacher_logits, weights))
    return out

  return evaluate


def apply_in_batches(fn: Callable, inputs: jax.Array, max_rows: int) -> jax.Array:
  """``fn`` (row by row independent) over the leading axis in groups of at most ``max_rows``
  rows (lax.map).  Groups divide the rows when a divisor of at least half ``max_rows`` does;
  otherwise the rows are padded with zeros to whole groups and the padding's outputs dropped:
  3,334 rows (2 x 1,667) in groups of 2 ran a wide MLP teacher 30x slower than in groups of
  1,000 (measured; a progressive schedule switching teacher every 33,333 steps makes such
  chunks)."""
  rows = inputs.shape[0]
  group = largest_divisor_at_most(rows, max_rows)
  if group == rows:
    return fn(inputs)
  pad = 0
  if 2 * group < min(rows, max_rows):
    group = min(rows, max_rows)
    pad = -rows % group
    inputs = jnp.concatenate([inputs, jnp.zeros((pad,) + inputs.shape[1:], inputs.dtype)])
  out = jax.lax.map(fn, inputs.reshape((-1, group) + inputs.shape[1:]))
  return out.reshape((rows + pad,) + out.shape[2:])[:rows]


def largest_divisor_at_most(n: int, bound: int) -> int:
  return max(d for d in range(1, min(n, max(bound, 1)) + 1) if n % d == 0)


def scan_steps(train_step: Callable) -> Callable:
  """``run(state, steps, batches, rng) -> (state, metric sums)``: ``train_step`` once per step."""

  def run(state, steps, batches, rng):
    def body(carry, xs):
      state, sums = carry
      step, batch = xs
      state, metrics = train_step(state, batch, jax.random.fold_in(rng, step))
      return (state, jax.tree.map(jnp.add, sums, metrics)), None

    first = jax.tree.map(lambda a: a[0], batches)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                         jax.eval_shape(train_step, state, first, rng)[1])
    return jax.lax.scan(body, (state, zeros), (steps, batches))[0]

  return run


def make_chunk_fn(train_step: Callable | None, batches_fn: Callable = lambda batches: batches, *,
                  batch_sharding=None, teacher_apply: Callable | None = None,
                  teacher_batch_rows: int = 4096, teacher_target: str = TEACHER_LOGITS,
                  run_steps: Callable | None = None, steps_in_batches: bool = False):
  """Builds ``chunk(state, teacher_stack, starts, chunk_input, rng, start_step)``.

  ``batches_fn(chunk_input)`` (a task's ``batches``; by default the input is the batches)
  holds one batch per step on a leading axis; its length is static, so the loop's handful of
  distinct chunk lengths are compiled once each.  ``teacher_apply(variables, inputs)``
  (distillation), the teacher's evaluation-mode forward, puts its outputs in the batches under
  ``teacher_target``; ``teacher_stack`` is its variables, stacked by schedule position.
  ``batch_sharding`` spreads each
  step's batch over the data mesh; leave it None on one device, where the constraint alone
  makes XLA's CPU scan 6x slower (measured: benchmarks/RESULTS.md).  ``run_steps`` replaces
  the per-step scan of ``train_step`` (``scan_steps``), e.g. by ``lowrank_sgd``'s.
  ``steps_in_batches``: each step's batch also holds its step number (``STEP``), for a loss
  that reads it (``Objective.reads_step``).
  """
  run_steps = run_steps or scan_steps(train_step)

  def chunk(state, teacher_stack, starts, chunk_input, rng, start_step):
    batches = batches_fn(chunk_input)
    length = jax.tree.leaves(batches)[0].shape[0]
    steps = start_step + jnp.arange(length)
    if batch_sharding is not None:
      batches = jax.lax.with_sharding_constraint(batches, batch_sharding)
    if teacher_apply is not None:
      position = position_in_jit(starts, start_step)
      teacher = jax.tree.map(lambda a: a[position], teacher_stack)
      inputs = batches['inputs']
      flat = inputs.reshape((-1,) + inputs.shape[2:])
      outputs = apply_in_batches(lambda x: teacher_apply(teacher, x), flat, teacher_batch_rows)
      batches = {**batches, teacher_target: jax.lax.stop_gradient(
          outputs.reshape(inputs.shape[:2] + outputs.shape[1:]))}
    if steps_in_batches:
      batches = {**batches, STEP: steps}

    state, sums = run_steps(state, steps, batches, rng)
    return state, jax.tree.map(lambda s: s / length, sums)

  return chunk


def member_teacher_rows(teacher_batch_rows: int, members: int) -> int:
  """Teacher rows per forward group in a chunk vmapped over ``members``.

  vmap multiplies the teacher's activations by the member count; dividing the group keeps
  them as large as a plain run's (a 15-member one-shot grid ran 0.7x its members one after
  another with the plain run's group size, 0.9-1.1x with this; benchmarks/RESULTS.md).
  """
  return max(teacher_batch_rows // members, 1)


def member_chunk(chunk: Callable) -> Callable:
  """``chunk`` over members stacked on a leading axis of state, chunk input and rng (sweeps).

  The teacher trajectory, schedule and step range are shared by every member.
  """

  def chunks(state, teacher_stack, starts, chunk_input, rng, start_step):
    one = lambda s, i, r: chunk(s, teacher_stack, starts, i, r, start_step)
    return jax.vmap(one)(state, chunk_input, rng)

  return chunks
