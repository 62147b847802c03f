"""Batch-1 SGD steps/s of the parity MLP: pdistill's fused chunk vs a naive per-step jit loop.

Measures, in one process and on the same data:
  * teacher steps at H=1,000 and H=50,000 (n=100, 2 labels, SGD),
  * distillation steps of a H=1,000 student from a H=50,000 teacher (one-shot, kl_alpha=0),
each through ``steps.make_chunk_fn`` as training runs it (the task's batches drawn on device
inside the fused chunk) and through a naive loop that calls a
jitted step once per Python iteration with the batch made on device (plus, for the
distillation, the teacher forward inside that step).  Prints steps/s and the ratio.

  python benchmarks/parity_throughput.py [--repeats 3] [--quick]

Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import functools
import platform
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from pdistill import optimizers, steps
from pdistill.config import builders
from pdistill.data import parity, streams, tasks
from pdistill.models.mlp import MLP
from pdistill.parallel import mesh as mesh_lib

N = 100


def sgd():
  return ml_collections.ConfigDict(dict(name='sgd', learning_rate=5e-3, lr_schedule='constant',
                                        warmup_frac=0.0, momentum=0.0, weight_decay=0.0))


def setup(hidden: int, teacher_hidden: int | None):
  task = tasks.build(ml_collections.ConfigDict(builders.parity_data(N, 6, eval_seed=0)), 1)
  mesh = mesh_lib.make_mesh(1, jax.devices()[:1])
  model = MLP(hidden=(hidden,), num_labels=2)
  tx = optimizers.make_optimizer(sgd(), 10**9)
  params = model.init(jax.random.key(0), jnp.zeros((1, N)))['params']
  teacher = None
  if teacher_hidden:
    t_model = MLP(hidden=(teacher_hidden,), num_labels=2)
    t_params = t_model.init(jax.random.key(1), jnp.zeros((1, N)))['params']
    teacher = (t_model.apply, jax.tree.map(lambda a: a[None], t_params))
  step = steps.make_train_step(model.apply, tx, distill=teacher is not None, alpha=0.0)
  state = jax.device_put(steps.create_state(params, tx), mesh_lib.replicated(mesh))
  return task, state, step, teacher


def time_fused(hidden, teacher_hidden, num_steps, chunk, repeats):
  task, state, step, teacher = setup(hidden, teacher_hidden)
  fn = jax.jit(steps.make_chunk_fn(step, task.batches,
                                   teacher_apply=teacher[0] if teacher else None,
                                   teacher_batch_rows=1024), donate_argnums=(0,))
  stack = teacher[1] if teacher else None
  starts = jnp.zeros((1,), jnp.int32)
  key = jax.random.key(0)
  inputs = lambda begin: jax.tree.map(lambda a: a[0], task.chunk_input([0], begin, chunk))
  state, _ = fn(state, stack, starts, inputs(0), key, 0)  # compile
  jax.block_until_ready(state)
  rates = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    for begin in range(0, num_steps, chunk):
      state, m = fn(state, stack, starts, inputs(begin), key, begin)
    jax.block_until_ready(state)
    rates.append(num_steps / (time.perf_counter() - t0))
  return float(np.median(rates))


def time_naive(hidden, teacher_hidden, num_steps, repeats):
  _, state, step, teacher = setup(hidden, teacher_hidden)
  key = streams.run_key(0, streams.DATA)
  batch_fn = functools.partial(parity.train_batch, parity.make_task(N, 6), batch_size=1)

  @functools.partial(jax.jit, donate_argnums=(0,))
  def one(state, stack, s):
    batch = batch_fn(key, s)
    if teacher is not None:
      t = jax.tree.map(lambda a: a[0], stack)
      batch['teacher_logits'] = teacher[0]({'params': t}, batch['inputs'])
    return step(state, batch, None)

  stack = teacher[1] if teacher else None
  state, _ = one(state, stack, 0)
  jax.block_until_ready(state)
  rates = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    for s in range(num_steps):
      state, m = one(state, stack, s)
    jax.block_until_ready(state)
    rates.append(num_steps / (time.perf_counter() - t0))
  return float(np.median(rates))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--quick', action='store_true', help='10x fewer steps (a smoke check)')
  args = parser.parse_args()
  scale = 10 if args.quick else 1
  cases = [  # name, student H, teacher H, fused steps, chunk, naive steps, target steps/s
      ('teacher H=1,000', 1_000, None, 100_000 // scale, 5_000 // scale, 20_000 // scale, 35_000),
      ('teacher H=50,000', 50_000, None, 3_000 // scale, 1_000 // scale, 1_000 // scale, 900),
      ('distill 1,000 <- 50,000', 1_000, 50_000, 10_000 // scale, 1_000 // scale,
       2_000 // scale, 2_000),
  ]
  print(f'# {platform.processor() or platform.machine()}, {jax.device_count()} device(s) '
        f'({jax.devices()[0].platform}), jax {jax.__version__}, median of {args.repeats}')
  print('| workload | pdistill fused chunk (steps/s) | naive per-step jit (steps/s) | ratio | '
        'target |')
  print('|---|---:|---:|---:|---:|')
  for name, hidden, teacher_hidden, num_steps, chunk, naive_steps, target in cases:
    fused = time_fused(hidden, teacher_hidden, num_steps, chunk, args.repeats)
    naive = time_naive(hidden, teacher_hidden, naive_steps, args.repeats)
    print(f'| {name} | {fused:,.0f} | {naive:,.0f} | {fused / naive:.2f}x | {target:,} |',
          flush=True)


if __name__ == '__main__':
  main()
