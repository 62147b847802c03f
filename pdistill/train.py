"""``train_and_evaluate(config, workdir)``: the one entry point of CLI, tests and notebooks."""

from __future__ import annotations

import logging
import math

import jax
import jax.numpy as jnp

from pdistill import (data_mesh, metrics_log, models, optimizers, progress, run_config, tasks,
                      teacher_loading, train_steps)
from pdistill.config_validation import validate
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


def _stop_points(step: int, num_steps: int, every: list[int], teacher) -> int:
  """The next step after ``step`` at which the loop must regain control."""
  candidates = [num_steps] + [(step // e + 1) * e for e in every if e]
  if teacher is not None:
    switch = teacher.schedule.next_switch(step)
    if switch is not None:
      candidates.append(switch)
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
  if config.method in ('one_shot', 'progressive'):
    teacher = teacher_loading.load_teacher(config, task, replicated)
  run_config.claim(workdir, config)

  model = models.build(run.model, task)
  tx = optimizers.make_optimizer(run.optim, run.num_steps)
  key = jax.random.key(config.seed)
  init_key, data_key, step_key = (jax.random.fold_in(key, i) for i in range(3))
  init = jax.jit(lambda k: train_steps.create_state(model.init(k, task.init_inputs)['params'],
                                                    tx),
                 out_shardings=replicated)
  state = init(init_key)

  checkpoints = RunCheckpoints(workdir)
  start = checkpoints.latest_step() or 0
  if start:
    state = checkpoints.restore(start, state)
    log.info('resuming %s from step %d in %s', config.method, start, workdir)

  train_step = train_steps.make_train_step(
      model.apply, tx, distill=teacher is not None,
      alpha=run.get('alpha', 1.0), temperature=run.get('temperature', 1.0))
  batch_sharding = data_mesh.batch_sharded(mesh, 1) if mesh.size > 1 else None
  chunk = jax.jit(
      train_steps.make_chunk_fn(train_step, task.device_batch,
                                batch_sharding=batch_sharding,
                                teacher_apply=teacher.apply if teacher else None,
                                teacher_batch_rows=loop.teacher_batch_rows),
      static_argnames=('length',), donate_argnums=(0,))
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
    if teacher is not None:
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
      end = _stop_points(begin, run.num_steps, [loop.chunk_steps] + eval_every, teacher)
      if task.device_batch is not None:
        return end, data_key
      batches = tasks.host_chunk(task, config.seed, begin, end - begin)
      return end, jax.device_put(batches, batch_sharding or replicated)

    step = start
    upcoming = chunk_data(step) if step < run.num_steps else None
    while step < run.num_steps:
      end, chunk_input = upcoming
      state, chunk_metrics = chunk(state, teacher_stack, starts, chunk_input, step_key, step,
                                   length=end - step)
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
