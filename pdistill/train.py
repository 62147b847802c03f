"""``train_and_evaluate(config, workdir)``: the one entry point of CLI, tests and notebooks.

One compiled program trains one or more *members*.  A plain run is one member.  A sweep
(``config.sweep``, pdistill/sweep.py) is a grid of (learning rate, seed) members whose train
states are stacked on a leading axis, spread over the devices, and stepped by the vmapped
chunk; each member still gets its own metrics (and trajectory) directory.
"""

from __future__ import annotations

import dataclasses
import logging

import jax
import jax.numpy as jnp
import numpy as np

from pdistill import (curriculum, data_mesh, metrics_log, models, optimizers, progress,
                      run_config, tasks, teacher_loading, train_steps)
from pdistill.config_validation import DISTILL_METHODS, validate
from pdistill.run_checkpoint import RunCheckpoints
from pdistill.trajectory import TrajectoryWriter

log = logging.getLogger('pdistill')


def train_and_evaluate(config, workdir: str) -> dict:
  """Runs ``config.method`` in ``workdir`` (resuming what is there); returns the final metrics.

  A pipeline returns {run name: final metrics}, a sweep {member name: final metrics}.
  """
  validate(config)
  if config.method == 'pipeline':
    from pdistill import pipeline  # pipeline imports this module
    return pipeline.run(config, workdir)
  if config.sweep.learning_rates or config.sweep.seeds:
    from pdistill import sweep  # sweep imports this module
    return sweep.run(config, workdir)
  return train_run(config, workdir)


@dataclasses.dataclass(frozen=True)
class Member:
  seed: int
  learning_rate: float | None  # None: the run's own (optim.learning_rate)
  workdir: str  # where its metrics and trajectory go


def _stop_points(step: int, num_steps: int, every: list[int], switches: list[int]) -> int:
  """The next step after ``step`` at which the loop must regain control.

  ``switches`` are steps where the chunk's inputs change (teacher, curriculum stage): a chunk
  never straddles one.
  """
  candidates = [num_steps] + [(step // e + 1) * e for e in every if e]
  candidates += [s for s in switches if s > step]
  return min(candidates)


def train_run(config, workdir: str) -> dict:
  """One teacher or student run; see the module docstring of train_steps for the mechanics."""
  validate(config)
  setup = Setup.create(config, members=1)
  run_config.claim(workdir, config, write=data_mesh.is_writer())
  return train_members(config, setup, [Member(config.seed, None, workdir)], workdir)[0]


@dataclasses.dataclass
class Setup:
  """What a run needs before anything is written: task, mesh, teacher, model, curriculum."""

  task: tasks.Task
  mesh: jax.sharding.Mesh
  teacher: teacher_loading.Teacher | None
  model: object
  stages: curriculum.Stages | None

  @classmethod
  def create(cls, config, members: int) -> 'Setup':
    """Everything that can fail on bad input happens here, before the workdir is touched.

    One member splits its batch over the devices; several members are spread over them.
    """
    run = config[run_config.run_section(config.method)]
    task = tasks.build(config.data, run.batch_size)
    devices = jax.devices()[:config.loop.num_devices] if config.loop.num_devices else None
    mesh = data_mesh.make_mesh(run.batch_size if members == 1 else members, devices)
    teacher = None
    if config.method in DISTILL_METHODS:
      teacher = teacher_loading.load_teacher(config, task, data_mesh.replicated(mesh))
    model = models.build(run.model, task)
    stages = None
    if config.method == 'curriculum':
      stages = curriculum.Stages.create(run, teacher.model_config, model)
      model = stages.model
    return cls(task, mesh, teacher, model, stages)


def train_members(config, setup: Setup, members: list[Member], state_dir: str) -> list[dict]:
  """Trains ``members`` (one: a plain run; several: vmapped) and returns each one's last record.

  The resumable state (stacked for several members) is checkpointed in ``state_dir``.
  """
  run, loop, data = config[run_config.run_section(config.method)], config.loop, config.data
  task, mesh, teacher, model, stages = (setup.task, setup.mesh, setup.teacher, setup.model,
                                        setup.stages)
  stacked = len(members) > 1
  replicated = data_mesh.replicated(mesh)
  writer = data_mesh.is_writer()
  if stacked:
    state_sharding, batch_sharding = data_mesh.batch_sharded(mesh, 0), None
    tx = optimizers.make_sweep_optimizer(run.optim, run.num_steps)
  else:
    state_sharding = replicated
    batch_sharding = data_mesh.batch_sharded(mesh, 1) if mesh.size > 1 else None
    tx = optimizers.make_optimizer(run.optim, run.num_steps)

  def member_keys():
    keys = [jax.random.key(m.seed) for m in members]
    parts = [[jax.random.fold_in(k, i) for k in keys] for i in range(3)]
    return [jnp.stack(p) if stacked else p[0] for p in parts]

  # Made inside jit with a global output sharding, so a multi-host run gets global arrays.
  init_keys, data_keys, step_keys = jax.jit(member_keys, out_shardings=state_sharding)()
  init_method = stages.model.init_all if stages else None

  def init(keys):
    create = lambda k: train_steps.create_state(
        model.init(k, task.init_inputs, method=init_method)['params'], tx)
    if not stacked:
      return create(keys)
    state = jax.vmap(create)(keys)
    rates = jnp.asarray([m.learning_rate for m in members], jnp.float32)
    return state.replace(opt_state=optimizers.set_learning_rate(state.opt_state, rates))

  state = jax.jit(init, out_shardings=state_sharding)(init_keys)

  checkpoints = RunCheckpoints(state_dir)
  start = checkpoints.latest_step() or 0
  if start:
    state = checkpoints.restore(start, state)
    log.info('resuming %s from step %d in %s', config.method, start, state_dir)

  alpha, temperature = run.get('alpha', 1.0), run.get('temperature', 1.0)
  switches = list(teacher.schedule.starts) if teacher else []
  if stages:
    switches += stages.starts

  def build_chunk(stage):
    if stages:
      step_fn = curriculum.make_stage_step(model, tx, stage, alpha=alpha, temperature=temperature)
      teacher_apply = stages.teacher_apply(teacher.apply, stage)
    else:
      step_fn = train_steps.make_train_step(model.apply, tx, distill=teacher is not None,
                                            alpha=alpha, temperature=temperature)
      teacher_apply = teacher.apply if teacher else None
    rows = train_steps.member_teacher_rows(loop.teacher_batch_rows, len(members))
    chunk = train_steps.make_chunk_fn(step_fn, task.device_batch, batch_sharding=batch_sharding,
                                      teacher_apply=teacher_apply, teacher_batch_rows=rows)
    if stacked:
      chunk = train_steps.member_chunk(chunk)
    return jax.jit(chunk, static_argnames=('length',), donate_argnums=(0,))

  chunks = {}  # one compiled chunk per curriculum stage (just one otherwise)

  def chunk_for(step):
    stage = stages.stage(step) if stages else 0
    if stage not in chunks:
      chunks[stage] = build_chunk(stage)
    return chunks[stage]
  eval_fn = train_steps.make_eval_fn(model.apply, loop.eval_batch_size)
  if stacked:
    eval_fn = jax.vmap(eval_fn, in_axes=(0, None))
  evaluate = jax.jit(eval_fn, out_shardings=replicated)
  eval_sharding = (data_mesh.batch_sharded(mesh, 0)
                   if not stacked and data.eval_size % mesh.size == 0 else replicated)
  eval_set = data_mesh.put(task.eval_set, eval_sharding)
  teacher_stack = teacher.stack if teacher else None
  starts = jnp.asarray(teacher.schedule.starts if teacher else (0,), jnp.int32)

  logs = [metrics_log.MetricsLog(m.workdir, start) if writer else None for m in members]
  trajectories = ([TrajectoryWriter(m.workdir) for m in members]
                  if run.trajectory_every_steps else None)
  name = f'{config.method} {state_dir}' + (f' ({len(members)} members)' if stacked else '')
  meter = progress.Progress(name, run.num_steps, start, loop.log_every_secs)
  traj_every = run.trajectory_every_steps
  # Checkpoints and trajectory points are also eval points, so a resumed run's running train
  # averages start from the same place as an uninterrupted run's.
  eval_every = [loop.eval_every_steps, loop.checkpoint_every_steps, traj_every]
  last = [{} for _ in members]
  sums, counted = {}, 0

  def member_params(i):
    return jax.tree.map(lambda a: a[i], state.params) if stacked else state.params

  def on_eval(step: int):
    nonlocal sums, counted
    results = {f'train_{k}': v / counted for k, v in sums.items()} if counted else {}
    results.update({f'eval_{k}': np.atleast_1d(v)
                    for k, v in data_mesh.fetch(evaluate(state.params, eval_set)).items()})
    extra = {}
    if stages:
      extra['curriculum_stage'] = stages.stage(max(step - 1, 0))
    elif teacher is not None:
      extra['teacher_step'] = teacher.schedule.teacher_steps[
          teacher.schedule.position(max(step - 1, 0))]
    for i in range(len(members)):
      record = {**{k: float(v[i]) for k, v in results.items()}, **extra}
      if writer:
        logs[i].write(step, record)
      last[i] = {'step': step, **record}
      if trajectories is not None and (step % traj_every == 0 or step == run.num_steps):
        trajectories[i].save(step, member_params(i), record)
    sums, counted = {}, 0

  def shown():
    if not stacked:
      return {k: v for k, v in last[0].items() if k.startswith('eval_')}
    accuracies = [r['eval_accuracy'] for r in last if 'eval_accuracy' in r]
    return {'best eval_accuracy': max(accuracies)} if accuracies else {}

  try:
    if start == 0:
      on_eval(0)
    else:
      for i, m in enumerate(members):
        last[i] = next((r for r in reversed(metrics_log.read(m.workdir)) if r['step'] <= start),
                       {})

    def chunk_data(begin):
      """(end, data) of the chunk starting at ``begin``: the data key(s), or host batches."""
      end = _stop_points(begin, run.num_steps, [loop.chunk_steps] + eval_every, switches)
      if task.device_batch is not None:
        return end, data_keys
      batches = [tasks.host_chunk(task, m.seed, begin, end - begin) for m in members]
      if stacked:
        return end, data_mesh.put(jax.tree.map(lambda *xs: np.stack(xs), *batches),
                                  state_sharding)
      return end, data_mesh.put(batches[0], batch_sharding or replicated)

    step = start
    upcoming = chunk_data(step) if step < run.num_steps else None
    while step < run.num_steps:
      end, chunk_input = upcoming
      state, chunk_metrics = chunk_for(step)(state, teacher_stack, starts, chunk_input,
                                             step_keys, step, length=end - step)
      # Made while the device runs the chunk just dispatched (jax dispatch is asynchronous).
      upcoming = chunk_data(end) if end < run.num_steps else None
      for k, v in data_mesh.fetch(chunk_metrics).items():
        sums[k] = sums.get(k, 0.0) + np.atleast_1d(v).astype(np.float64) * (end - step)
      counted += end - step
      step = end
      if step == run.num_steps or any(e and step % e == 0 for e in eval_every):
        on_eval(step)
        if step == run.num_steps or step % loop.checkpoint_every_steps == 0:
          checkpoints.save(step, state)
      if writer:
        meter.update(step, shown(), force=step == run.num_steps)
  finally:
    checkpoints.close()
    for t in trajectories or ():
      t.close()
    for m in logs:
      if m is not None:
        m.close()
  return last
