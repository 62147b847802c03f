"""What a run needs before anything is written: task, mesh, teacher, model, curriculum, optim."""

from __future__ import annotations

import dataclasses

import jax
import optax

from pdistill import config as config_lib
from pdistill import models, optimizers
from pdistill.distill import curriculum, divergences
from pdistill.distill import teacher as teacher_lib
from pdistill.data import tasks
from pdistill.parallel import mesh as mesh_lib


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
    return cls(task, mesh, teacher, model, stages, stacked, tx, objective, state_sharding,
               batch_sharding)

  def switches(self) -> list[int]:
    """Steps where the chunk's inputs change (teacher, curriculum stage): no chunk straddles one."""
    points = list(self.teacher.schedule.starts) if self.teacher else []
    return points + (list(self.stages.starts) if self.stages else [])
