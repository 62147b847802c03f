"""The compiled chunks of a run (one per curriculum stage, else one) and the input they take."""

from __future__ import annotations

import logging

import jax

from pdistill import config as config_lib
from pdistill import lowrank_sgd, models, optimizers, steps
from pdistill.distill import curriculum
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
    setup = self._setup
    teacher = setup.teacher
    chunk = make_chunk(setup.model, setup.tx, setup.task.batches, objective=setup.objective,
                       teacher_apply=teacher.apply if teacher else None,
                       teacher_model=teacher.model_config if teacher else None,
                       block_steps=self._block_steps, stages=setup.stages, stage=stage,
                       batch_sharding=setup.batch_sharding, teacher_rows=self._teacher_rows,
                       members=setup.stacked)
    return jax.jit(chunk, donate_argnums=(0,))

  def for_step(self, step: int):
    stage = self._setup.stages.stage(step) if self._setup.stages else 0
    if stage not in self._compiled:
      self._compiled[stage] = self._build(stage)
    return self._compiled[stage]


def make_chunk(model, tx, batches_fn, *, objective=None, teacher_apply=None,
               teacher_model=None, block_steps: int = 0, stages=None, stage: int = 0,
               batch_sharding=None, teacher_rows: int = 1024, members: bool = False):
  """The chunk function training runs (``steps.make_chunk_fn``), not yet jitted: benchmarks
  build theirs here too, so they time what training runs.

  ``objective``: what the student minimises (``distill.divergences``; None: CE).
  ``teacher_apply``: the teacher's evaluation-mode forward; ``teacher_model`` its model
  section, whose ``models.fast_paths`` may replace it.  ``block_steps``: K of the block SGD
  path (0: step by step; the caller has checked it applies).  ``stages``/``stage``: a
  curriculum's.  ``members``: vmapped over stacked members (a sweep).
  """
  if stages:
    step_fn = curriculum.make_stage_step(model, tx, stage, objective)
    teacher_apply = stages.teacher_apply(teacher_apply, stage)
    target = stages.teacher_target(stage)
  else:
    step_fn = steps.make_train_step(model, tx, objective)
    if teacher_model is not None:
      teacher_apply = models.fast_paths(teacher_model).teacher_apply or teacher_apply
    target = steps.TEACHER_LOGITS
  run_steps = None
  if block_steps and not stages:
    run_steps = lowrank_sgd.make_run_steps(tx, block_steps, objective)
  chunk = steps.make_chunk_fn(step_fn, batches_fn, batch_sharding=batch_sharding,
                              teacher_apply=teacher_apply, teacher_batch_rows=teacher_rows,
                              teacher_target=target, run_steps=run_steps,
                              steps_in_batches=objective is not None and objective.reads_step)
  return steps.member_chunk(chunk) if members else chunk


def sgd_block_steps(config) -> int:
  """``loop.sgd_block_steps`` where ``lowrank_sgd`` applies to the run (a model admitting the
  block path under plain SGD), else 0.  A curriculum's student carries extra heads and
  losses: ``Chunks`` keeps it step by step."""
  run = config_lib.run_section(config)
  if not models.fast_paths(run.model).block_sgd or not optimizers.is_plain_sgd(run.optim):
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
