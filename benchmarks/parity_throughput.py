"""Batch-1 SGD steps/s of the parity MLP: pdistill's low-rank block path, its per-step fused
chunk, and a plain PyTorch loop, measured in the same run.

Workloads (n=100, 2 labels, SGD lr 5e-3 constant, batch 1):
  * teacher H=1,000 and H=50,000,
  * distillation of a H=1,000 student from a H=50,000 teacher (one-shot, alpha 0, T 1).
pdistill runs each through ``steps.make_chunk_fn`` as training does (batches drawn on device
inside the chunk; for distillation the teacher's logits from one batched forward per chunk),
once step by step and once with ``lowrank_sgd`` (K = the configs' ``loop.sgd_block_steps``).
For distillation the block path's teacher forward is ``mlp.logits_by_hidden_blocks`` (what
training runs) and the per-step side's is the plain ``MLP.apply`` (what it ran before both),
and the teacher's blocked logits are also timed alone: no student path can beat them.
The PyTorch loop is the reference implementation's way: torch.nn.Linear layers, one
``torch.optim.SGD`` step per example, the teacher's forward per example (data made
beforehand, not timed).  Rounds are interleaved; the table gives medians and the median of
the per-round ratios.

  python benchmarks/parity_throughput.py [--rounds 5] [--quick]

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

from pdistill import optimizers, steps
from pdistill.distill import divergences
from pdistill.config import builders
from pdistill.data import tasks
from pdistill.engine import chunks
from pdistill.models.mlp import MLP, logits_by_hidden_blocks

N = 100
# name, student H, teacher H, pdistill steps per round, chunk, torch steps per round,
# target ratio of the low-rank path to the per-step path (issue 12)
CASES = [
    ('teacher H=1,000', 1_000, None, 20_000, 5_000, 4_000, 2.0),
    ('teacher H=50,000', 50_000, None, 2_000, 1_000, 400, 3.0),
    ('distill 1,000 <- 50,000', 1_000, 50_000, 4_000, 1_000, 1_000, 1.5),
]


def parity_task():
  return tasks.build(ml_collections.ConfigDict(builders.parity_data(N, 6, eval_seed=0)), 1)


def chunk_inputs(task, begin, num_steps, chunk):
  """The chunk inputs of steps begin..begin+num_steps-1 (made before timing)."""
  return [jax.tree.map(lambda a: a[0], task.chunk_input([0], b, chunk))
          for b in range(begin, begin + num_steps, chunk)]


class Fused:
  """One workload through pdistill's chunk; ``run(steps)`` trains on and returns steps/s."""

  def __init__(self, hidden, teacher_hidden, chunk, block_steps, blocked_teacher=True):
    task = parity_task()
    model = MLP(hidden=(hidden,), num_labels=2)
    tx = optimizers.make_optimizer(builders.optimizer('sgd', 5e-3), 10**9)
    distill = teacher_hidden is not None
    teacher_apply, self.stack = None, None
    if distill:
      t_model = MLP(hidden=(teacher_hidden,), num_labels=2)
      t_params = t_model.init(jax.random.key(1), jnp.zeros((1, N)))['params']
      teacher_apply = t_model.apply
      self.stack = {'params': jax.tree.map(lambda a: a[None], t_params)}
    objective = divergences.Objective('forward_kl', alpha=0.0) if distill else None
    # Built as training builds it; the blocked teacher forward is the MLP's fast path.
    teacher_model = (dict(name='mlp', hidden=(teacher_hidden,))
                     if distill and blocked_teacher else None)
    self.fn = jax.jit(chunks.make_chunk(model, tx, task.batches, objective=objective,
                                        teacher_apply=teacher_apply,
                                        teacher_model=teacher_model, block_steps=block_steps,
                                        teacher_rows=1024),
                      donate_argnums=(0,))
    self.state = steps.create_state(model.init(jax.random.key(0), jnp.zeros((1, N)))['params'],
                                    tx)
    self.task, self.chunk, self.begin = task, chunk, 0
    self.run(chunk)  # compile

  def run(self, num_steps):
    starts, key = jnp.zeros((1,), jnp.int32), jax.random.key(0)
    inputs = chunk_inputs(self.task, self.begin, num_steps, self.chunk)
    t0 = time.perf_counter()
    for i, chunk_input in enumerate(inputs):
      self.state, _ = self.fn(self.state, self.stack, starts, chunk_input, key,
                              self.begin + i * self.chunk)
    jax.block_until_ready(self.state)
    self.begin += num_steps
    return num_steps / (time.perf_counter() - t0)


class TeacherForward:
  """Only the teacher's logits of a distillation chunk (its batched forward): a ceiling for
  the distillation step, whichever way the student trains."""

  def __init__(self, teacher_hidden, chunk):
    task = parity_task()
    model = MLP(hidden=(teacher_hidden,), num_labels=2)
    params = model.init(jax.random.key(1), jnp.zeros((1, N)))['params']

    def logits(params, chunk_input):
      inputs = task.batches(chunk_input)['inputs']
      flat = inputs.reshape((-1,) + inputs.shape[2:])
      return steps.apply_in_batches(lambda x: logits_by_hidden_blocks(params, x), flat, 1024)

    self.fn, self.params, self.task = jax.jit(logits), params, task
    self.chunk, self.begin = chunk, 0
    self.run(chunk)

  def run(self, num_steps):
    inputs = chunk_inputs(self.task, self.begin, num_steps, self.chunk)
    t0 = time.perf_counter()
    for chunk_input in inputs:
      out = self.fn(self.params, chunk_input)
    jax.block_until_ready(out)
    self.begin += num_steps
    return num_steps / (time.perf_counter() - t0)


class Torch:
  """The same workload as a plain PyTorch loop: one optimizer step per example."""

  def __init__(self, hidden, teacher_hidden, max_steps):
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    self.torch = torch
    mlp = lambda h: torch.nn.Sequential(torch.nn.Linear(N, h), torch.nn.ReLU(),
                                        torch.nn.Linear(h, 2))
    self.model = mlp(hidden)
    self.teacher = mlp(teacher_hidden).eval() if teacher_hidden else None
    self.opt = torch.optim.SGD(self.model.parameters(), lr=5e-3)
    self.x = torch.randint(0, 2, (max_steps, 1, N)).float() * 2 - 1
    self.y = (self.x[:, :, :6].prod(-1) < 0).long()
    self.run(min(50, max_steps))  # warm-up

  def run(self, num_steps):
    torch, f = self.torch, self.torch.nn.functional
    t0 = time.perf_counter()
    for i in range(num_steps):
      x = self.x[i]
      logits = self.model(x)
      if self.teacher is None:
        loss = f.cross_entropy(logits, self.y[i])
      else:
        with torch.no_grad():
          target = f.softmax(self.teacher(x), -1)
        loss = -(target * f.log_softmax(logits, -1)).sum(-1).mean()
      self.opt.zero_grad()
      loss.backward()
      self.opt.step()
    return num_steps / (time.perf_counter() - t0)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--quick', action='store_true', help='10x fewer steps (a smoke check)')
  parser.add_argument('--block_steps', type=int, default=builders.SGD_BLOCK_STEPS,
                      help='K of the low-rank path (default: loop.sgd_block_steps\'s)')
  args = parser.parse_args()
  block_steps = args.block_steps
  scale = 10 if args.quick else 1
  try:
    import torch
    torch_version = torch.__version__
  except ImportError:
    torch_version = None
  print(f'# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'{jax.device_count()} device(s) ({jax.devices()[0].platform}), jax {jax.__version__}, '
        f'torch {torch_version or "not installed"}, K={block_steps}, {args.rounds} rounds')
  print('| workload | low-rank (steps/s) | per-step (steps/s) | PyTorch (steps/s) | '
        'low-rank / per-step | target | per-step / PyTorch | low-rank / PyTorch |')
  print('|---|---:|---:|---:|---:|---:|---:|---:|')
  for name, hidden, teacher_hidden, num_steps, chunk, torch_steps, target in CASES:
    num_steps, chunk = num_steps // scale, max(chunk // scale, 1)
    torch_steps = max(torch_steps // scale, 10)
    runners = {'low': Fused(hidden, teacher_hidden, chunk, block_steps),
               'step': Fused(hidden, teacher_hidden, chunk, 0, blocked_teacher=False)}
    if teacher_hidden:
      runners['teacher'] = TeacherForward(teacher_hidden, chunk)
    if torch_version:
      runners['torch'] = Torch(hidden, teacher_hidden, torch_steps)
    rates = {k: [] for k in runners}
    for _ in range(args.rounds):
      for key, runner in runners.items():
        rates[key].append(runner.run(torch_steps if key == 'torch' else num_steps))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    ratio = lambda a, b: float(np.median(np.array(rates[a]) / np.array(rates[b])))
    torch_cells = (f'{med["torch"]:,.0f}', f'{ratio("step", "torch"):.2f}x',
                   f'{ratio("low", "torch"):.2f}x') if torch_version else ('-', '-', '-')
    print(f'| {name} | {med["low"]:,.0f} | {med["step"]:,.0f} | {torch_cells[0]} | '
          f'**{ratio("low", "step"):.2f}x** | {target}x | {torch_cells[1]} | {torch_cells[2]} |',
          flush=True)
    if teacher_hidden:
      print(f'|   teacher logits alone | {med["teacher"]:,.0f} | | | ceiling '
            f'{ratio("teacher", "step"):.2f}x | | | |', flush=True)


if __name__ == '__main__':
  main()
