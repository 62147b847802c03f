"""Member-steps/s of a learning-rate x seed grid: one vmapped program vs members one after another.

The paper's grid (5 learning rates x 3 seeds = 15 members), batch-1 SGD on sparse parity
(n=100, k=6), each member with its own init, data stream and learning rate.  Both sides use
pdistill's fused chunk (``steps.make_chunk_fn``, batches drawn on device inside it), in one
process:

  * grid:       ``steps.member_chunk`` over the 15 stacked states (what a sweep runs),
                on one CPU device, and with its members spread over ``--cpu_devices`` host
                devices (``python -m pdistill.main --cpu_devices=N``: one core each),
  * sequential: the plain chunk, member after member (what 15 plain runs would do; batch-1
                SGD has nothing to split over several cores).

Cases: CE at H=100 (the repro student), H=256 and H=1,000 (the paper's student), and one-shot
distillation of an H=100 student from an H=2,000 teacher (teacher logits per chunk, shared).

  python benchmarks/sweep_throughput.py [--repeats 3] [--quick] [--cpu_devices N]

``--cpu_devices`` defaults to the smallest divisor of 15 that is at least the number of cores.

Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from pdistill import optimizers, steps
from pdistill.distill import divergences
from pdistill.config import builders
from pdistill.data import tasks
from pdistill.engine import chunks
from pdistill.models.mlp import MLP
from pdistill.parallel import multihost

RATES, SEEDS = (1e-2, 7.5e-3, 5e-3, 2.5e-3, 1e-3), (0, 1, 2)
MEMBERS = len(RATES) * len(SEEDS)
N, K = 100, 6


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--quick', action='store_true', help='10x fewer steps (a smoke check)')
  parser.add_argument('--block_steps', type=int, default=builders.SGD_BLOCK_STEPS,
                      help='K of lowrank_sgd on both sides, as training runs it (configs\' '
                      'loop.sgd_block_steps); 0 = step by step')
  cores = os.cpu_count() or 1
  parser.add_argument('--cpu_devices', type=int,
                      default=next(d for d in range(1, MEMBERS + 1)
                                   if MEMBERS % d == 0 and d >= min(cores, MEMBERS)))
  return parser.parse_args()


def sgd(lr=1e-2):
  return ml_collections.ConfigDict(dict(name='sgd', learning_rate=lr, lr_schedule='cosine',
                                        warmup_frac=0.06, momentum=0.0, weight_decay=0.0))

class Case:

  def __init__(self, hidden: int, teacher_hidden: int | None, num_steps: int,
               block_steps: int):
    self.block_steps = block_steps
    data = ml_collections.ConfigDict(builders.parity_data(N, K, eval_seed=0))
    self.task = tasks.build(data, 1)
    self.model = MLP(hidden=(hidden,), num_labels=2)
    self.teacher_apply, self.teacher_model, self.stack = None, None, None
    if teacher_hidden:
      t_model = MLP(hidden=(teacher_hidden,), num_labels=2)
      t_params = t_model.init(jax.random.key(99), jnp.zeros((1, N)))['params']
      self.teacher_apply = t_model.apply
      self.teacher_model = dict(name='mlp', hidden=(teacher_hidden,))  # its fast path
      self.stack = {'params': jax.tree.map(lambda a: a[None], t_params)}
    self.num_steps = num_steps
    self.starts = jnp.zeros((1,), jnp.int32)

  def chunk(self, tx, teacher_rows=1024):
    distill = self.stack is not None
    objective = divergences.Objective('forward_kl', alpha=0.0) if distill else None
    return chunks.make_chunk(self.model, tx, self.task.batches, objective=objective,
                             teacher_apply=self.teacher_apply,
                             teacher_model=self.teacher_model, block_steps=self.block_steps,
                             teacher_rows=teacher_rows)

  def state(self, tx, seed):
    params = self.model.init(jax.random.key(seed), jnp.zeros((1, N)))['params']
    return steps.create_state(params, tx)


def time_grid(case: Case, num_steps: int, chunk: int, repeats: int, devices: int) -> float:
  tx = optimizers.make_sweep_optimizer(sgd(), case.num_steps)
  chunk_fn = case.chunk(tx, steps.member_teacher_rows(1024, MEMBERS))
  fn = jax.jit(steps.member_chunk(chunk_fn), donate_argnums=(0,))
  members = [(lr, s) for lr in RATES for s in SEEDS]
  states = [case.state(tx, s) for _, s in members]
  state = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
  state = state.replace(opt_state=optimizers.set_learning_rate(
      state.opt_state, jnp.asarray([lr for lr, _ in members], jnp.float32)))
  keys = jnp.stack([jax.random.key(s) for _, s in members])
  spread = NamedSharding(Mesh(np.array(jax.devices()[:devices]), ('data',)), P('data'))
  state, keys = jax.device_put((state, keys), spread)
  seeds = [s for _, s in members]
  inputs = lambda begin: jax.device_put(case.task.chunk_input(seeds, begin, chunk), spread)
  state, _ = fn(state, case.stack, case.starts, inputs(0), keys, 0)  # compile
  jax.block_until_ready(state)
  rates = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    for begin in range(0, num_steps, chunk):
      state, _ = fn(state, case.stack, case.starts, inputs(begin), keys, begin)
    jax.block_until_ready(state)
    rates.append(len(members) * num_steps / (time.perf_counter() - t0))
  return float(np.median(rates))


def time_sequential(case: Case, num_steps: int, chunk: int, repeats: int) -> float:
  fns = {lr: jax.jit(case.chunk(optimizers.make_optimizer(sgd(lr), case.num_steps)),
                     donate_argnums=(0,)) for lr in RATES}
  members = [(lr, s) for lr in RATES for s in SEEDS]
  states = {m: case.state(optimizers.make_optimizer(sgd(m[0]), case.num_steps), m[1])
            for m in members}
  inputs = lambda s, begin: jax.tree.map(lambda a: a[0],
                                        case.task.chunk_input([s], begin, chunk))
  for lr, s in members:  # compile every learning rate's chunk before timing
    states[lr, s], _ = fns[lr](states[lr, s], case.stack, case.starts, inputs(s, 0),
                               jax.random.key(s), 0)
  jax.block_until_ready(states)
  rates = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    for lr, s in members:
      key = jax.random.key(s)
      for begin in range(0, num_steps, chunk):
        states[lr, s], _ = fns[lr](states[lr, s], case.stack, case.starts, inputs(s, begin),
                                   key, begin)
      jax.block_until_ready(states[lr, s])
    rates.append(len(members) * num_steps / (time.perf_counter() - t0))
  return float(np.median(rates))


def main(args):
  multihost.use_cpu_devices(args.cpu_devices)  # before JAX first touches a device
  scale = 10 if args.quick else 1
  cases = [  # name, H, teacher H, steps per member, chunk, target ratio
      ('CE, H=100', 100, None, 20_000 // scale, 5_000 // scale, 5.0),
      ('CE, H=256', 256, None, 20_000 // scale, 5_000 // scale, 5.0),
      ('CE, H=1,000', 1_000, None, 10_000 // scale, 5_000 // scale, 5.0),
      ('one-shot, H=100 <- 2,000', 100, 2_000, 10_000 // scale, 2_000 // scale, None),
  ]
  d = args.cpu_devices
  print(f'# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'{jax.device_count()} {jax.devices()[0].platform} device(s), jax {jax.__version__}, '
        f'{len(RATES)} learning rates x {len(SEEDS)} seeds, K={args.block_steps}, '
        f'median of {args.repeats}')
  print(f'| workload | grid, 1 device | grid, {d} devices | one after another | ratio 1 device | '
        f'ratio {d} devices | target |')
  print('|---|---:|---:|---:|---:|---:|---:|')
  for name, hidden, teacher_hidden, num_steps, chunk, target in cases:
    case = Case(hidden, teacher_hidden, 8_000_000, args.block_steps)
    grid = time_grid(case, num_steps, chunk, args.repeats, 1)
    spread = time_grid(case, num_steps, chunk, args.repeats, d) if d > 1 else grid
    sequential = time_sequential(case, num_steps, chunk, args.repeats)
    print(f'| {name} | {grid:,.0f} | {spread:,.0f} | {sequential:,.0f} | '
          f'{grid / sequential:.2f}x | {spread / sequential:.2f}x | '
          f'{f"{target:.0f}x" if target else "-"} |', flush=True)


if __name__ == '__main__':
  main(parse_args())
