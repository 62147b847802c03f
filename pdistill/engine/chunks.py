"""The compiled chunks of a run (one per curriculum stage, else one) and the input they take."""

from __future__ import annotations

import logging

import jax

from pdistill import config as config_lib
from pdistill import curriculum, lowrank_sgd, models, steps
from pdistill.models import mlp
from pdistill.engine.setup import Member, Setup
from pdistill.parallel import mesh as mesh_lib

log = logging.getLogger('pdistill')


class Chunks:
  """``for_step(step)``: the jitted chunk that trains from ``step``, compiled on first use."""

  def __init__(self, config, setup: Setup, num_members: int):
    self._setup = setup
    self._teacher_rows = steps.member_teacher_rows(config.loop.teacher_batch_rows, num_members)
    self._block_steps = sgd_block_steps(config)
    if self._block_steps and not lowrank_sgd.supports(setup.objective):
      log.info('%s: the block SGD path cannot carry %s\'s state from step to step; training '
               'step by step', config.method, setup.objective.name)
      self._block_steps = 0
    self._compiled = {}

  def _build(self, stage: int):
    setup, teacher, stages = self._setup, self._setup.teacher, self._setup.stages
    tx, objective = setup.tx, setup.objective
    if stages:
      step_fn = curriculum.make_stage_step(setup.model, tx, stage, objective)
      teacher_apply = stages.teacher_apply(teacher.apply, stage)
      target = stages.teacher_target(stage)
    else:
      step_fn = steps.make_train_step(setup.model, tx, objective)
      teacher_apply = teacher.apply if teacher else None
      if teacher and models.is_one_hidden_layer_mlp(teacher.model_config):
        teacher_apply = mlp.apply_by_hidden_blocks
      target = steps.TEACHER_LOGITS
    run_steps = None
    if self._block_steps and not stages:
      run_steps = lowrank_sgd.make_run_steps(tx, self._block_steps, objective)
    chunk = steps.make_chunk_fn(step_fn, setup.task.batches,
                                batch_sharding=setup.batch_sharding,
                                teacher_apply=teacher_apply,
                                teacher_batch_rows=self._teacher_rows, teacher_target=target,
                                run_steps=run_steps, steps_in_batches=objective.reads_step)
    if setup.stacked:
      chunk = steps.member_chunk(chunk)
    return jax.jit(chunk, donate_argnums=(0,))

  def for_step(self, step: int):
    stage = self._setup.stages.stage(step) if self._setup.stages else 0
    if stage not in self._compiled:
      self._compiled[stage] = self._build(stage)
    return self._compiled[stage]


def sgd_block_steps(config) -> int:
  """``loop.sgd_block_steps`` where ``lowrank_sgd`` applies to the run, else 0: a
  one-hidden-layer MLP under plain SGD (no momentum, no weight decay).  A curriculum's
  student carries extra heads and losses: ``Chunks`` keeps it step by step."""
  run = config_lib.run_section(config)
  model, optim = run.model, run.optim
  if (not models.is_one_hidden_layer_mlp(model) or optim.name != 'sgd' or optim.momentum
      or optim.weight_decay):
    return 0
  return config.loop.get('sgd_block_steps', 0)


def chunk_input(setup: Setup, members: list[Member], begin: int, end: int, make=None):
  """The task's input for the chunk of steps begin..end-1, placed on the mesh.

  ``make`` replaces ``setup.task.chunk_input`` (e.g. a ``data.host_pool.HostPool``'s).  A
  sweep's members are spread over the devices; a plain run's leaves of shape [steps, batch,
  ...] are split along the batch axis (when the batch is split at all), smaller ones
  replicated.
  """
  make = make or setup.task.chunk_input
  stacked = make([m.seed for m in members], begin, end - begin)
  if setup.stacked:
    return mesh_lib.put(stacked, setup.state_sharding)
  split = setup.batch_sharding

  def place(a):
    a = a[0]
    return mesh_lib.put(a, split if split is not None and a.ndim >= 2 else setup.replicated)

  return jax.tree.map(place, stacked)
