"""What a run needs before anything is written: task, mesh, teacher, model, curriculum, optim."""

from __future__ import annotations

import dataclasses

import jax
import optax

from pdistill import config as config_lib
from pdistill import models, optimizers
from pdistill.distill import curriculum, divergences
from pdistill.distill import teacher as teacher_lib
from pdistill.config import ConfigError
from pdistill.data import tasks
from pdistill.models import calls
from pdistill.parallel import mesh as mesh_lib


def _check_model(config, model, task, tx, members: int, init_method) -> None:
  """Refuses, before the workdir is claimed, a model whose outputs do not match the task's
  classes, or whose params and optimizer state would not fit in memory (nothing computed)."""
  field = f'{config_lib.section_name(config.method)}.model'
  abstract = jax.eval_shape(
      lambda k: calls.init(model, k, task.init_inputs, method=init_method), jax.random.key(0))
  if config_lib.run_section(config).model.name == 'linen':
    outputs = jax.eval_shape(lambda v: calls.eval_apply(model)(v, task.init_inputs),
                             calls.join(*abstract))
    leaves = jax.tree.leaves(outputs)
    if len(leaves) != 1 or leaves[0].shape[-1:] != (task.num_outputs,):
      raise ConfigError(field, f'the model outputs {[tuple(o.shape) for o in leaves]} for one '
                        f'example but {config.data.get("factory", "the data")} has num_outputs='
                        f'{task.num_outputs}: its last axis must be one logit per class')
  need = members * mesh_lib.tree_bytes((abstract, jax.eval_shape(tx.init, abstract[0])))
  problem = mesh_lib.room_error(need, f'its params and optimizer state ({members} member(s))')
  if problem:
    raise ConfigError(field, f'{problem}; use a smaller model (or fewer sweep members)')


@dataclasses.dataclass(frozen=True)
class Member:
  seed: int
  learning_rate: float | None  # None: the run's own (optim.learning_rate)
  workdir: str  # where its metrics and trajectory go


@dataclasses.dataclass
class Setup:
  """A run's fixed parts.  One member splits its batch over the devices; several members (a
  sweep, stacked on a leading axis) are spread over them."""

  task: tasks.Task
  mesh: jax.sharding.Mesh
  teacher: teacher_lib.Teacher | None
  model: object
  stages: curriculum.Stages | None
  stacked: bool  # several members on a leading axis
  tx: optax.GradientTransformation
  objective: divergences.Objective  # what the run minimises (cross-entropy or a divergence)
  state_sharding: jax.sharding.NamedSharding
  batch_sharding: jax.sharding.NamedSharding | None  # a plain run's per-step batch, or None

  @property
  def replicated(self) -> jax.sharding.NamedSharding:
    return mesh_lib.replicated(self.mesh)

  @classmethod
  def create(cls, config, members: int) -> 'Setup':
    """Everything that can fail on bad input happens here, before the workdir is touched."""
    run = config_lib.run_section(config)
    task = tasks.build(config.data, run.batch_size)
    devices = jax.devices()[:config.loop.num_devices] if config.loop.num_devices else None
    mesh = mesh_lib.make_mesh(run.batch_size if members == 1 else members, devices)
    teacher = None
    if config.method in config_lib.DISTILL_METHODS:
      teacher = teacher_lib.load_teacher(config, task, mesh_lib.replicated(mesh))
    model = models.build(run.model, task)
    stages = None
    if config.method == 'curriculum':
      stages = curriculum.Stages.create(run, teacher.model_config, model)
      model = stages.model
    stacked = members > 1
    if stacked:
      tx = optimizers.make_sweep_optimizer(run.optim, run.num_steps)
      state_sharding, batch_sharding = mesh_lib.batch_sharded(mesh, 0), None
    else:
      tx = optimizers.make_optimizer(run.optim, run.num_steps)
      state_sharding = mesh_lib.replicated(mesh)
      batch_sharding = mesh_lib.batch_sharded(mesh, 1) if mesh.size > 1 else None
    objective = divergences.objective(run, distill=teacher is not None)
    _check_model(config, model, task, tx, members,
                 stages.model.init_all if stages else None)
    return cls(task, mesh, teacher, model, stages, stacked, tx, objective, state_sharding,
               batch_sharding)

  def switches(self) -> list[int]:
    """Steps where the chunk's inputs change (teacher, curriculum stage): no chunk straddles one."""
    points = list(self.teacher.schedule.starts) if self.teacher else []
    return points + (list(self.stages.starts) if self.stages else [])
