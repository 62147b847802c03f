"""optax optimizer and learning-rate schedule from an ``optim`` config section."""

from __future__ import annotations

import optax

from pdistill.config.checks import choice, get, positive, require

OPTIMIZERS = ('sgd', 'adam', 'adamw')
LR_SCHEDULES = ('constant', 'cosine', 'linear')


def check(config, run: str) -> None:
  """Checks ``config[run].optim`` (ConfigError naming the field)."""
  choice(config, f'{run}.optim.name', OPTIMIZERS)
  choice(config, f'{run}.optim.lr_schedule', LR_SCHEDULES)
  positive(config, f'{run}.optim.learning_rate')
  warm = get(config, f'{run}.optim.warmup_frac')
  require(0 <= warm < 1, f'{run}.optim.warmup_frac', f'must be in [0, 1), got {warm!r}')


def is_plain_sgd(optim) -> bool:
  """Whether the update is a scalar times the gradient, with state independent of the params
  (what ``lowrank_sgd`` needs): SGD without momentum or weight decay."""
  return optim.name == 'sgd' and not optim.momentum and not optim.weight_decay


def learning_rate_schedule(optim, num_steps: int, learning_rate=None) -> optax.Schedule:
  """The reference's schedule: linear warmup over warmup_frac of the run, then constant/cosine/linear.

  Step s (0-based) of the warmup uses lr * (s + 1) / warmup_steps, as in the reference loop.
  ``learning_rate`` (default ``optim.learning_rate``) may be a traced array (sweeps).
  """
  lr = optim.learning_rate if learning_rate is None else learning_rate
  warmup = int(round(optim.warmup_frac * num_steps))
  decay_steps = max(num_steps - warmup, 1)
  if optim.lr_schedule == 'constant':
    after = optax.constant_schedule(lr)
  elif optim.lr_schedule == 'cosine':
    after = optax.cosine_decay_schedule(lr, decay_steps)
  elif optim.lr_schedule == 'linear':
    after = optax.linear_schedule(lr, 0.0, decay_steps)
  else:
    raise ValueError(f'optim.lr_schedule must be one of {LR_SCHEDULES}, got {optim.lr_schedule!r}')
  if warmup == 0:
    return after
  warm = lambda s: lr * (s + 1) / warmup
  return optax.join_schedules([warm, after], [warmup])


def make_optimizer(optim, num_steps: int, learning_rate=None) -> optax.GradientTransformation:
  schedule = learning_rate_schedule(optim, num_steps, learning_rate)
  if optim.name == 'sgd':
    tx = optax.sgd(schedule, momentum=optim.momentum or None)
    if optim.weight_decay:
      # torch.optim.SGD adds weight_decay * param to the gradient before the step.
      tx = optax.chain(optax.add_decayed_weights(optim.weight_decay), tx)
    return tx
  if optim.name == 'adam':
    return optax.adam(schedule, b1=optim.b1, b2=optim.b2, eps=optim.eps)
  if optim.name == 'adamw':
    return optax.adamw(schedule, b1=optim.b1, b2=optim.b2, eps=optim.eps,
                       weight_decay=optim.weight_decay)
  raise ValueError(f'optim.name must be one of {OPTIMIZERS}, got {optim.name!r}')


def make_sweep_optimizer(optim, num_steps: int) -> optax.GradientTransformation:
  """``make_optimizer`` with the peak learning rate kept in the optimizer state.

  Sweep members share one update function and differ only in that state entry
  (``set_learning_rate``), so a grid of learning rates is one vmapped program.
  """
  return optax.inject_hyperparams(
      lambda learning_rate: make_optimizer(optim, num_steps, learning_rate))(
          learning_rate=optim.learning_rate)


def set_learning_rate(opt_state, learning_rate):
  """The state of ``make_sweep_optimizer`` with its peak learning rate replaced."""
  return opt_state._replace(hyperparams={**opt_state.hyperparams, 'learning_rate': learning_rate})
