"""A grid of learning rates x seeds for one run, trained as one vmapped program.

``config.sweep.learning_rates`` x ``config.sweep.seeds`` (either may be empty: then the run's
own learning rate or seed) become members that share the model, data pipeline, teacher and
schedule and differ in their seed (init, data stream, step rngs) and peak learning rate.  Their
states are stacked and stepped together: for small models one vmapped step costs little more
than one plain step (benchmarks/sweep_throughput.py).  Member ``(lr, seed)`` follows the same
trajectory as the plain run with that seed and learning rate (tests/test_sweep.py).

Layout::

  WORKDIR/config.json            the sweep
  WORKDIR/checkpoints/           the stacked train state (resume)
  WORKDIR/lr_<lr>/seed_<s>/      a run directory per member: config.json, metrics.jsonl,
                                 tensorboard/, trajectory/ (a teacher sweep's members can be
                                 distilled from like any teacher run)
  WORKDIR/sweep.md, sweep.png    eval accuracy per learning rate, mean +- std over seeds
"""

from __future__ import annotations

import logging
import os

from pdistill import config as config_lib
from pdistill.config.checks import get, require
from pdistill.distill import teacher as teacher_lib
from pdistill.engine import Member, Setup, finished_records, run_members
from pdistill.metrics import plot
from pdistill.parallel import mesh
from pdistill.storage import run_config, run_lock

log = logging.getLogger('pdistill')


def check(config) -> None:
  """Checks ``config.sweep`` (ConfigError naming the field)."""
  rates, seeds = tuple(get(config, 'sweep.learning_rates')), tuple(get(config, 'sweep.seeds'))
  if not rates and not seeds:
    return
  require(config.method != 'pipeline', 'sweep',
          f'a sweep trains one method; set method to one of {config_lib.METHODS[1:]} (got '
          'pipeline)')
  require(all(isinstance(r, (int, float)) and r > 0 for r in rates), 'sweep.learning_rates',
          f'must be positive numbers, got {rates!r}')
  require(len(set(rates)) == len(rates), 'sweep.learning_rates', f'has repeats: {rates!r}')
  require(all(isinstance(s, int) and s >= 0 for s in seeds), 'sweep.seeds',
          f'must be non-negative integers, got {seeds!r}')
  require(len(set(seeds)) == len(seeds), 'sweep.seeds', f'has repeats: {seeds!r}')


grid = config_lib.sweep_grid
member_dir = config_lib.sweep_member_dir


def member_config(config, learning_rate: float, seed: int):
  """The plain run this member reproduces."""
  c = config.copy_and_resolve_references()
  c.seed = seed
  config_lib.run_section(c).optim.learning_rate = learning_rate
  c.sweep.update(learning_rates=(), seeds=())
  return c


def run(config, workdir: str) -> dict:
  rates, seeds = grid(config)
  members = [Member(s, lr, member_dir(workdir, lr, s)) for lr in rates for s in seeds]
  if run_lock.read_only(workdir):
    run_config.claim(workdir, config, write=False, located=teacher_lib.located(workdir))
    results = finished_records(config, members, workdir)
    return {os.path.relpath(m.workdir, workdir): r for m, r in zip(members, results)}
  setup = Setup.create(config, members=len(members))
  writer = mesh.is_writer()
  # Every directory is checked before any is written, so a refused resume writes nothing.
  located = teacher_lib.located(workdir)
  for write in (False, True) if writer else (False,):
    run_config.claim(workdir, config, write=write, located=located)
    for m in members:
      run_config.claim(m.workdir, member_config(config, m.learning_rate, m.seed), write=write,
                       located=located)
  if setup.teacher is not None:
    teacher_lib.pin(workdir, setup.teacher, write=writer)
  log.info('sweep: %d learning rates x %d seeds = %d members in one program on %d device(s)',
           len(rates), len(seeds), len(members), setup.mesh.size)
  results = run_members(config, setup, members, workdir)
  if writer:
    write_summary(config, workdir, rates, seeds)
  return {os.path.relpath(m.workdir, workdir): r for m, r in zip(members, results)}


def write_summary(config, workdir: str, rates, seeds) -> None:
  runs = {f'lr={lr:g}': [member_dir(workdir, lr, s) for s in seeds] for lr in rates}
  num_steps = config_lib.run_section(config).num_steps
  table = plot.accuracy_table(runs, plot.budgets(num_steps), label_header='learning rate')
  with open(os.path.join(workdir, 'sweep.md'), 'w') as f:
    f.write(f'{config.method}: eval accuracy, mean ± std over seeds {list(seeds)}\n\n'
            f'{table}\n')
  plot.plot_comparison(runs, os.path.join(workdir, 'sweep.png'),
                       title=f'{config.method}: learning rates', xlabel='step')
  log.info('sweep: wrote sweep.md and sweep.png in %s\n%s', workdir, table)
