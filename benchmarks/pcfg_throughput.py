"""Tokens/s of PCFG masked-LM teacher and distillation steps: fused chunk vs per-step jit loop.

Host batches (numpy PCFG sampler + masking) are made before timing, so this measures the
device step only; the sampler's own rate is printed too.  Sizes default to the CPU
reproduction's (configs/pcfg_bert.py:repro); ``--size full`` uses the paper's models at a
reduced batch.

  python benchmarks/pcfg_throughput.py [--size repro|full] [--batch 32] [--steps 20]

Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

from pdistill import models, optimizers, steps
from pdistill.distill import divergences
from pdistill.config.files import load_config
from pdistill.data import tasks
from pdistill.engine import chunks


def build(run, task, key):
  model = models.build(run.model, task)
  tx = optimizers.make_optimizer(run.optim, run.num_steps)
  params = model.init(jax.random.key(key), task.init_inputs)['params']
  return model, tx, steps.create_state(params, tx)


def rate(fn, repeats):
  fn()  # compile
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--size', default='repro', choices=('repro', 'full'))
  parser.add_argument('--batch', type=int, default=32)
  parser.add_argument('--steps', type=int, default=20, help='steps per timed chunk')
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  c = load_config(f'configs/pcfg_bert.py:teacher,{args.size}')
  task = tasks.build(c.data, args.batch)

  t0 = time.perf_counter()
  batches = jax.tree.map(lambda a: a[0], task.chunk_input([0], 0, args.steps))
  sample_s = time.perf_counter() - t0
  tokens = int(np.sum(batches['inputs'] != task.pad_id))  # real tokens, BOS included
  batches = jax.device_put(batches)

  t_model, t_tx, t_state = build(c.teacher, task, 0)
  s_model, s_tx, s_state = build(c.student, task, 1)
  stack = {'params': jax.tree.map(lambda a: a[None], t_state.params)}
  starts = jax.numpy.zeros((1,), jax.numpy.int32)
  key = jax.random.key(0)

  cases = {
      'teacher step': (t_model, t_tx, t_state, False),
      'distillation step (student <- teacher)': (s_model, s_tx, s_state, True),
  }
  print(f'# {platform.machine()}, {jax.device_count()} {jax.devices()[0].platform} device(s), '
        f'jax {jax.__version__}; {args.size} models (teacher width {c.teacher.model.width}, '
        f'student {c.student.model.width}), batch {args.batch}, {args.steps} steps per chunk, '
        f'median of {args.repeats}')
  print(f'# host sampler + masking: {tokens / sample_s:,.0f} tokens/s')
  print('| step | fused chunk (tokens/s) | per-step jit loop (tokens/s) | ratio |')
  print('|---|---:|---:|---:|')
  for name, (model, tx, state, distill) in cases.items():
    objective = (divergences.Objective('forward_kl', alpha=0.0, temperature=0.0)
                 if distill else None)
    step = steps.make_train_step(model, tx, objective)  # the per-step loop's
    chunk = jax.jit(chunks.make_chunk(
        model, tx, lambda batches: batches, objective=objective,
        teacher_apply=t_model.apply if distill else None, teacher_rows=64))
    fused = rate(lambda: chunk(state, stack, starts, batches, key, 0)[0], args.repeats)

    @jax.jit
    def one(state, batch):
      if distill:
        batch = {**batch, steps.TEACHER_LOGITS: t_model.apply({'params': t_state.params},
                                                          batch['inputs'])}
      return step(state, batch, None)[0]

    def loop():
      s = state
      for i in range(args.steps):
        s = one(s, jax.tree.map(lambda a: a[i], batches))
      return s

    naive = rate(loop, args.repeats)
    print(f'| {name} | {tokens / fused:,.0f} | {tokens / naive:,.0f} | {naive / fused:.2f}x |',
          flush=True)


if __name__ == '__main__':
  main()
