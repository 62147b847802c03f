"""``train_and_evaluate(config, workdir)``: the one entry point of CLI, tests and notebooks."""

from __future__ import annotations

import logging

import jax
import jax.numpy as jnp

from pdistill import (curriculum, data_mesh, metrics_log, models, optimizers, progress,
                      run_config, tasks, teacher_loading, train_steps)
from pdistill.config_validation import DISTILL_METHODS, validate
from pdistill.run_checkpoint import RunCheckpoints
from pdistill.trajectory import TrajectoryWriter

log = logging.getLogger('pdistill')


def train_and_evaluate(config, workdir: str) -> dict:
  """Runs ``config.method`` in ``workdir`` (resuming what is there); returns the final metrics.

  A pipeline returns {run name: final metrics}.
  """
  validate(config)
  if config.method == 'pipeline':
    from pdistill import pipeline  # pipeline imports this module
    return pipeline.run(config, workdir)
  return train_run(config, workdir)


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
  section = run_config.run_section(config.method)
  run, loop, data = config[section], config.loop, config.data
  task = tasks.build(data, run.batch_size)
  devices = jax.devices()[:loop.num_devices] if loop.num_devices else None
  mesh = data_mesh.make_mesh(run.batch_size, devices)
  replicated = data_mesh.replicated(mesh)

  # Everything that can fail on bad input happens before the workdir is touched.
  teacher = None
  if config.method in DISTILL_METHODS:
    teacher = teacher_loading.load_teacher(config, task, replicated)
  model = models.build(run.model, task)
  stages = None
  if config.method == 'curriculum':
    stages = curriculum.Stages.create(run, teacher.model_config, model)
    model = stages.model
  run_config.claim(workdir, config)

  tx = optimizers.make_optimizer(run.optim, run.num_steps)
  key = jax.random.key(config.seed)
  init_key, data_key, step_key = (jax.random.fold_in(key, i) for i in range(3))
  init_method = stages.model.init_all if stages else None
  init = jax.jit(lambda k: train_steps.create_state(
      model.init(k, task.init_inputs, method=init_method)['params'], tx),
                 out_shardings=replicated)
  state = init(init_key)

  checkpoints = RunCheckpoints(workdir)
  start = checkpoints.latest_step() or 0
  if start:
    state = checkpoints.restore(start, state)
    log.info('resuming %s from step %d in %s', config.method, start, workdir)

  alpha, temperature = run.get('alpha', 1.0), run.get('temperature', 1.0)
  batch_sharding = data_mesh.batch_sharded(mesh, 1) if mesh.size > 1 else None
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
    return jax.jit(
        train_steps.make_chunk_fn(step_fn, task.device_batch, batch_sharding=batch_sharding,
                                  teacher_apply=teacher_apply,
                                  teacher_batch_rows=loop.teacher_batch_rows),
        static_argnames=('length',), donate_argnums=(0,))

  chunks = {}  # one compiled chunk per curriculum stage (just one otherwise)

  def chunk_for(step):
    stage = stages.stage(step) if stages else 0
    if stage not in chunks:
      chunks[stage] = build_chunk(stage)
    return chunks[stage]
  evaluate = jax.jit(train_steps.make_eval_fn(model.apply, loop.eval_batch_size))
  eval_sharding = (data_mesh.batch_sharded(mesh, 0) if data.eval_size % mesh.size == 0
                   else replicated)
  eval_set = jax.device_put(task.eval_set, eval_sharding)
  teacher_stack = teacher.stack if teacher else None
  starts = jnp.asarray(teacher.schedule.starts if teacher else (0,), jnp.int32)

  metrics = metrics_log.MetricsLog(workdir, start)
  trajectory = TrajectoryWriter(workdir) if run.trajectory_every_steps else None
  meter = progress.Progress(f'{config.method} {workdir}', run.num_steps, start,
                            loop.log_every_secs)
  traj_every = run.trajectory_every_steps
  # Checkpoints and trajectory points are also eval points, so a resumed run's running train
  # averages start from the same place as an uninterrupted run's.
  eval_every = [loop.eval_every_steps, loop.checkpoint_every_steps, traj_every]
  last = {}
  sums, counted = {}, 0

  def on_eval(step: int):
    nonlocal sums, counted, last
    record = {f'train_{k}': v / counted for k, v in sums.items()} if counted else {}
    record.update({f'eval_{k}': float(v) for k, v in evaluate(state.params, eval_set).items()})
    if stages:
      record['curriculum_stage'] = stages.stage(max(step - 1, 0))
    elif teacher is not None:
      record['teacher_step'] = teacher.schedule.teacher_steps[
          teacher.schedule.position(max(step - 1, 0))]
    metrics.write(step, record)
    last = {'step': step, **record}
    sums, counted = {}, 0
    if trajectory is not None and (step % traj_every == 0 or step == run.num_steps):
      trajectory.save(step, state.params, record)

  try:
    if start == 0:
      on_eval(0)
    else:
      last = next((r for r in reversed(metrics_log.read(workdir)) if r['step'] <= start), {})
    def chunk_data(begin):
      """(end, data) of the chunk starting at ``begin``: the data key, or host batches."""
      end = _stop_points(begin, run.num_steps, [loop.chunk_steps] + eval_every, switches)
      if task.device_batch is not None:
        return end, data_key
      batches = tasks.host_chunk(task, config.seed, begin, end - begin)
      return end, jax.device_put(batches, batch_sharding or replicated)

    step = start
    upcoming = chunk_data(step) if step < run.num_steps else None
    while step < run.num_steps:
      end, chunk_input = upcoming
      state, chunk_metrics = chunk_for(step)(state, teacher_stack, starts, chunk_input,
                                             step_key, step, length=end - step)
      # Made while the device runs the chunk just dispatched (jax dispatch is asynchronous).
      upcoming = chunk_data(end) if end < run.num_steps else None
      for k, v in chunk_metrics.items():
        sums[k] = sums.get(k, 0.0) + float(v) * (end - step)
      counted += end - step
      step = end
      if step == run.num_steps or any(e and step % e == 0 for e in eval_every):
        on_eval(step)
        if step == run.num_steps or step % loop.checkpoint_every_steps == 0:
          checkpoints.save(step, state)
      meter.update(step, {k: v for k, v in last.items() if k.startswith('eval_')},
                   force=step == run.num_steps)
  finally:
    checkpoints.close()
    if trajectory is not None:
      trajectory.close()
    metrics.close()
  return last
