"""The train state every member starts from: initialised from its seed, or restored."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from pdistill import optimizers, steps
from pdistill.data import streams
from pdistill.engine.setup import Member, Setup
from pdistill.models import calls
from pdistill.storage.checkpoints import RunCheckpoints


def member_keys(members: list[Member], purpose: int, stacked: bool):
  keys = [streams.run_key(m.seed, purpose) for m in members]
  return jnp.stack(keys) if stacked else keys[0]


def initial_state(setup: Setup, members: list[Member], checkpoints: RunCheckpoints):
  """(state, step keys, first step): fresh from the seeds, or the latest checkpoint's."""
  stacked = setup.stacked

  def keys():
    return (member_keys(members, streams.INIT, stacked),
            member_keys(members, streams.STEPS, stacked))

  # Made inside jit with a global output sharding, so a multi-host run gets global arrays.
  init_keys, step_keys = jax.jit(keys, out_shardings=setup.state_sharding)()
  init_method = setup.stages.model.init_all if setup.stages else None

  def init(keys):
    def create(k):
      params, model_state = calls.init(setup.model, k, setup.task.init_inputs,
                                       method=init_method)
      return steps.create_state(params, setup.tx, model_state, setup.objective.init_state())

    if not stacked:
      return create(keys)
    state = jax.vmap(create)(keys)
    rates = jnp.asarray([m.learning_rate for m in members], jnp.float32)
    return state.replace(opt_state=optimizers.set_learning_rate(state.opt_state, rates))

  state = jax.jit(init, out_shardings=setup.state_sharding)(init_keys)
  restored, start = checkpoints.restore_newest_intact(state)
  return (state if restored is None else restored), step_keys, start
