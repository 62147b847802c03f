"""What a run writes while it trains: evals, metrics, trajectory points, checkpoints, progress.

Checkpoints and trajectory points are also eval points, so a resumed run's running train
averages start from the same place as an uninterrupted run's.  Only the writer process (process
0 of a multi-host run) writes metrics and progress lines; trajectories and checkpoints are
written collectively by Orbax.
"""

from __future__ import annotations

import logging

import jax
import numpy as np

from pdistill import config as config_lib
from pdistill import steps
from pdistill.distill import divergences
from pdistill.engine.setup import Member, Setup
from pdistill.metrics import log as metrics_log
from pdistill.metrics import progress
from pdistill.models import calls
from pdistill.parallel import mesh as mesh_lib
from pdistill.storage.checkpoints import RunCheckpoints
from pdistill.storage import trajectory
from pdistill.storage.trajectory import TrajectoryWriter

log = logging.getLogger('pdistill')


class Diverged(RuntimeError):
  """A run whose eval metrics or params stopped being finite (``loop.stop_on_nonfinite``)."""


class Recorder:

  def __init__(self, config, setup: Setup, members: list[Member], checkpoints: RunCheckpoints,
               start: int, name: str):
    run, loop = config_lib.run_section(config), config.loop
    self._setup, self._members, self._checkpoints = setup, members, checkpoints
    self._num_steps = run.num_steps
    self._trajectory_every = run.trajectory_every_steps
    self._checkpoint_every = loop.checkpoint_every_steps
    self.eval_every = [loop.eval_every_steps, loop.checkpoint_every_steps,
                       run.trajectory_every_steps]
    self._writer = mesh_lib.is_writer()
    teacher = setup.teacher
    eval_fn = steps.make_eval_fn(calls.eval_apply(setup.model), loop.eval_batch_size,
                                 teacher.apply if teacher else None, divergences.diagnostics)
    if setup.stacked:
      eval_fn = jax.vmap(eval_fn, in_axes=(0, None, None, None))
    self._evaluate = jax.jit(eval_fn, out_shardings=setup.replicated)
    eval_sharding = (mesh_lib.batch_sharded(setup.mesh, 0)
                     if not setup.stacked and config.data.eval_size % setup.mesh.size == 0
                     else setup.replicated)
    self._eval_set = mesh_lib.put(setup.task.eval_set, eval_sharding)
    self._logs = [metrics_log.MetricsLog(m.workdir, start) if self._writer else None
                  for m in members]
    self._trajectories = ([TrajectoryWriter(m.workdir) for m in members]
                          if run.trajectory_every_steps else [])
    self._meter = progress.Progress(name, run.num_steps, start, loop.log_every_secs)
    self._name, self._stop_on_nonfinite = name, loop.stop_on_nonfinite
    self._finite = jax.jit(lambda p: steps.all_finite(p, setup.stacked),
                           out_shardings=setup.replicated)
    self._diverged = set()  # members of a sweep that diverged (the others go on)
    self._sums, self._counted = {}, 0
    self.last = [{} for _ in members]  # each member's latest record
    if start:
      for i, m in enumerate(members):
        records = [r for r in metrics_log.read(m.workdir) if r['step'] <= start]
        self.last[i] = records[-1] if records else {}
        logged = {r['step'] for r in records}
        if 0 not in logged or start not in logged:
          log.warning('%s: its %s lacks the records before step %d (%s); the run resumes and '
                      'its history starts where it resumes', m.workdir, metrics_log.FILENAME,
                      start, 'the file is missing' if not records else
                      f'it holds {len(records)} of them, from step {min(logged)}')
        diverged = metrics_log.diverged_at(records)
        if diverged is not None and setup.stacked:  # said when it happened: the others go on
          self._diverged.add(i)

  def add_chunk(self, chunk_metrics, num_steps: int) -> None:
    """Adds a chunk's mean train metrics (over ``num_steps`` steps) to the running averages."""
    for k, v in mesh_lib.fetch(chunk_metrics).items():
      self._sums[k] = self._sums.get(k, 0.0) + np.atleast_1d(v).astype(np.float64) * num_steps
    self._counted += num_steps

  def at(self, step: int, state) -> None:
    """After the chunk ending at ``step``: eval, write and checkpoint where due; progress."""
    final = step == self._num_steps
    if final or any(e and step % e == 0 for e in self.eval_every):
      self.evaluate(step, state)
      if final or step % self._checkpoint_every == 0:
        self._checkpoints.save(step, state)
    if self._writer:
      self._meter.update(step, self._shown(), force=final)

  def evaluate(self, step: int, state) -> None:
    """Evaluates every member and writes its record (and trajectory point, where due)."""
    sums, counted = self._sums, self._counted
    results = {f'train_{k}': v / counted for k, v in sums.items()} if counted else {}
    teacher = self._setup.teacher
    position = (np.int32(teacher.schedule.position(max(step - 1, 0))) if teacher else None)
    results.update({f'eval_{k}': np.atleast_1d(v) for k, v in
                    mesh_lib.fetch(self._evaluate(steps.variables(state), self._eval_set,
                                                  teacher.stack if teacher else None,
                                                  position)).items()})
    self._check_finite(step, state, results)
    extra = self._schedule_position(max(step - 1, 0))
    trajectory_point = self._trajectories and trajectory.is_point(step, self._trajectory_every,
                                                                  self._num_steps)
    for i in range(len(self._members)):
      record = {**{k: float(v[i]) for k, v in results.items()}, **extra}
      if self._writer:
        self._logs[i].write(step, record)
      self.last[i] = {'step': step, **record}
      if trajectory_point:
        params, model_state = state.params, state.model_state
        if self._setup.stacked:
          params, model_state = jax.tree.map(lambda a: a[i], (params, model_state))
        self._trajectories[i].save(step, params, record, model_state)
    self._sums, self._counted = {}, 0

  def _check_finite(self, step: int, state, results: dict) -> None:
    """Stops the run (Diverged) before anything non-finite is written, unless told not to."""
    finite = np.atleast_1d(mesh_lib.fetch(self._finite(state.params)))
    for k, v in results.items():
      if k.removeprefix('eval_') in divergences.DIAGNOSTICS:  # about the teacher, which may
        # mask logits to -inf: they inform, they do not stop a run
        continue
      finite = finite & np.isfinite(v)
    bad = [i for i in range(len(self._members)) if not finite[i] and i not in self._diverged]
    if not bad or not self._stop_on_nonfinite:
      return
    if self._setup.stacked and len(self._diverged) + len(bad) < len(self._members):
      for i in bad:
        log.warning('%s: member %s diverged at step %d (non-finite loss or params); the '
                    'others go on', self._name, self._members[i].workdir, step)
      self._diverged.update(bad)
      return
    names = sorted(k for k, v in results.items() if not np.isfinite(v[bad[0]]))
    if step == 0:  # nothing has been learned yet: the data, not the optimizer, is at fault
      raise Diverged(
          f'{self._name}: the eval at step 0, before any training, is not finite '
          f'({", ".join(names) or "the initial params"}): the eval set (its inputs, labels or '
          'weights) or the model\'s initialisation is bad, not the learning rate; check the '
          'data (data.factory for a custom task) and the model config')
    last = self.last[bad[0]]
    kept = self._checkpoints.latest_step()
    raise Diverged(
        f'{self._name}: diverged at step {step}: '
        f'{", ".join(names) or "the params"} not finite. Last finite record: '
        + (', '.join(f'{k} {v:.4g}' for k, v in last.items()) if last else 'none')
        + (f'. Kept: the checkpoint of step {kept}' if kept is not None else
           '. No checkpoint was written') + '; nothing non-finite was saved. Lower the '
        'learning rate, or set --config.loop.stop_on_nonfinite=False to run on regardless')

  def _schedule_position(self, step: int) -> dict:
    """What the student learned from at ``step``: its curriculum stage or teacher checkpoint."""
    setup = self._setup
    if setup.stages:
      return {'curriculum_stage': setup.stages.stage(step)}
    if setup.teacher is not None:
      schedule = setup.teacher.schedule
      return {'teacher_step': schedule.teacher_steps[schedule.position(step)]}
    return {}

  def _shown(self) -> dict:
    if not self._setup.stacked:
      return {k: v for k, v in self.last[0].items() if k.startswith('eval_')}
    accuracies = [r['eval_accuracy'] for r in self.last if 'eval_accuracy' in r]
    return {'best eval_accuracy': max(accuracies)} if accuracies else {}

  def close(self) -> None:
    for t in self._trajectories:
      t.close()
    for m in self._logs:
      if m is not None:
        m.close()
