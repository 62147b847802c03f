"""What each of the paper's full-size runs costs on whatever JAX device is present.

One command measures, on the default device (GPU, TPU or CPU, named in every output):

1. the parity MLP, batch-1 SGD: teacher H=1,000 and H=50,000 and the 1,000 <- 50,000
   distillation step, pdistill's block path (``lowrank_sgd``) and per-step chunk side by side,
   plus a plain PyTorch batch-1 loop of the same model on the same kind of device when torch
   is importable (benchmarks/parity_throughput.py's runners);
2. the full-size transformer steps in tokens/s: PCFG BERT teacher (cfg3b, 4 layers, 32 heads
   of dim 8, width 256, batch 512) and student (8 heads, width 64), and the parity transformer
   (32-head teacher, 4-head student, batch 32, n=100), in fp32 and bf16 compute, and the host
   PCFG sampler's tokens/s (the loop's one process, and ``--sampler_processes`` of
   ``data.host_pool``) beside what the device consumes;
3. the projected wall time of each full-size experiment from those rates.

Each measurement compiles once (not timed), then repeats until its share of ``--budget_s``
is spent.  On a CPU the transformer batch is cut to ``--cpu_batch`` rows (printed) so the
whole run fits its budget; rates are per token, so the projections still follow.  Output: a
markdown table on stdout, and ``--out`` (default benchmarks/accelerator_suite.json plus .md).

  python benchmarks/accelerator_suite.py                 # default budget 480 s
  python benchmarks/accelerator_suite.py --tiny          # seconds: tiny sizes (the tests)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_throughput  # noqa: E402  (a sibling script: its runners)

from pdistill import models, optimizers, steps  # noqa: E402
from pdistill.distill import divergences  # noqa: E402
from pdistill.config.files import load_config  # noqa: E402
from pdistill.data import host_pool, tasks  # noqa: E402
from pdistill.engine import chunks  # noqa: E402
from pdistill.models import calls  # noqa: E402

# name, student H, teacher H, steps per timed call, chunk (parity_throughput's cases)
PARITY = [(name, hidden, teacher, chunk) for name, hidden, teacher, _, chunk, _, _ in
          parity_throughput.CASES]
TINY_PARITY = [('distill 16 <- 64', 16, 64, 200)]


def device_name() -> str:
  d = jax.devices()[0]
  kind = getattr(d, 'device_kind', d.platform)
  return f'{d.platform.upper()} ({kind}, {jax.device_count()} device(s))'


def timed(fn, seconds: float, max_reps: int = 50) -> float:
  """Median seconds of one ``fn()`` after a first (compiling) call; stops after ``seconds``."""
  jax.block_until_ready(fn())
  times, start = [], time.perf_counter()
  while len(times) < max_reps and (not times or time.perf_counter() - start < seconds):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def parity_rows(cases, seconds: float) -> list[dict]:
  rows = []
  for name, hidden, teacher_hidden, chunk in cases:
    row = {'workload': f'parity MLP {name}', 'unit': 'steps/s'}
    for label, block_steps in (('block path', 64), ('per-step', 0)):
      runner = parity_throughput.Fused(hidden, teacher_hidden, chunk, block_steps,
                                       blocked_teacher=bool(block_steps))
      per_call = timed(lambda: runner.run(chunk) and runner.state, seconds / 2)
      row[label] = chunk / per_call
    try:
      import torch  # noqa: F401
      torch_runner = parity_throughput.Torch(hidden, teacher_hidden, 200)
      row['PyTorch'] = float(np.median([torch_runner.run(200) for _ in range(3)]))
    except ImportError:
      row['PyTorch'] = None
    rows.append(row)
  return rows


def _transformer_case(config, run, batch, distill_from=None, dtype=None):
  """A jitted fused chunk of ``steps_per_call`` steps of ``run``'s model on ``batch`` rows."""
  task = tasks.build(config.data, batch)
  model_config = run.model.copy_and_resolve_references()
  if dtype:
    model_config.dtype = dtype
  model = models.build(model_config, task)
  tx = optimizers.make_optimizer(run.optim, run.num_steps)
  params, state = calls.init(model, jax.random.key(0), task.init_inputs)
  train_state = steps.create_state(params, tx, state)
  teacher_apply, stack = None, None
  if distill_from is not None:
    t_model = models.build(distill_from.model, task)
    t_params, t_state = calls.init(t_model, jax.random.key(1), task.init_inputs)
    teacher_apply = calls.eval_apply(t_model)
    stack = jax.tree.map(lambda a: a[None], calls.join(t_params, t_state))
  objective = (divergences.Objective('forward_kl', alpha=0.0, temperature=0.0)
               if distill_from is not None else None)
  chunk = jax.jit(chunks.make_chunk(model, tx, task.batches, objective=objective,
                                    teacher_apply=teacher_apply, teacher_rows=64))
  return task, train_state, stack, chunk


def sampler_rates(data, batch: int, steps_each: int, processes: int) -> dict:
  """Real tokens/s the host makes at the full ``batch``: one process (the loop's own) and a
  ``HostPool`` of ``processes`` (``loop.host_data_processes``; started before timing)."""
  task = tasks.build(data, batch)
  count = lambda chunk: int(np.sum(chunk['inputs'] != task.pad_id))
  t0 = time.perf_counter()
  one = count(task.chunk_input([0], 2, steps_each)) / (time.perf_counter() - t0)
  rates = {'host sampler': one, 'host sampler processes': processes}
  if processes > 1:
    pool = host_pool.HostPool(data, batch, processes)
    try:
      pool.chunk_input([0], 0, processes)  # starts the workers
      t0 = time.perf_counter()
      rates['host sampler pool'] = count(pool.chunk_input([0], 2, steps_each * processes)) / (
          time.perf_counter() - t0)
    finally:
      pool.close()
  return rates


def transformer_rows(tiny: bool, batch_cut: int | None, seconds: float,
                     sampler_processes: int = 1) -> list[dict]:
  size = 'smoke' if tiny else 'full'
  rows = []
  for config_name, label in (('pcfg_bert', 'PCFG BERT (cfg3b)'),
                             ('parity_transformer', 'parity transformer')):
    c = load_config(f'configs/{config_name}.py:teacher,{size}')
    roles = (('teacher step', c.teacher, None),
             ('student distillation step', c.student, c.teacher))
    for role, run, teacher in roles[:1] if tiny else roles:
      batch = min(run.batch_size, batch_cut) if batch_cut else run.batch_size
      row = {'workload': f'{label} {role}', 'unit': 'tokens/s', 'batch': batch,
             'full batch': run.batch_size}
      for dtype in ('float32',) if tiny else ('float32', 'bfloat16'):
        task, state, stack, chunk = _transformer_case(c, run, batch, teacher, dtype)
        inputs = jax.tree.map(lambda a: a[0], task.chunk_input([0], 0, 2))
        starts, key = jnp.zeros((1,), jnp.int32), jax.random.key(0)
        tokens = int(np.sum(np.asarray(task.batches(inputs)['inputs']) != task.pad_id))
        row['tokens per row'] = tokens / (2 * batch)  # real tokens (PAD not counted)
        per_call = timed(lambda: chunk(state, stack, starts, inputs, key, 0)[0], seconds / 4,
                         max_reps=10)
        row['fp32' if dtype == 'float32' else 'bf16'] = tokens / per_call
      if config_name == 'pcfg_bert':
        row.update(sampler_rates(c.data, run.batch_size, 1 if tiny else 4, sampler_processes))
      rows.append(row)
  return rows


# experiment, rate row, steps, how many such runs (teacher 1; students: methods x seeds)
FULL_RUNS = [
    ('parity MLP teacher (H=50,000, 20M steps)', 'parity MLP teacher H=50,000', 'block path',
     20_000_000, 1),
    ('parity MLP students (H=1,000 <- 50,000, 20M steps, 3 methods x 2 seeds)',
     'parity MLP distill 1,000 <- 50,000', 'block path', 20_000_000, 6),
    ('PCFG BERT teacher (2,000 steps x 512 sentences)', 'PCFG BERT (cfg3b) teacher step',
     'fp32', 2_000, 1),
    ('PCFG BERT students (2,000 steps, 4 methods x 3 seeds)',
     'PCFG BERT (cfg3b) student distillation step', 'fp32', 2_000, 12),
    ('parity transformer teacher (250k steps x 32)', 'parity transformer teacher step',
     'fp32', 250_000, 1),
    ('parity transformer students (250k steps, 3 methods x 3 seeds)',
     'parity transformer student distillation step', 'fp32', 250_000, 9),
]


def projections(rows: list[dict]) -> list[dict]:
  by_name = {r['workload']: r for r in rows}
  out = []
  for name, row_name, column, num_steps, runs in FULL_RUNS:
    row = by_name.get(row_name)
    if row is None or not row.get(column):
      continue
    if row['unit'] == 'steps/s':
      seconds = num_steps / row[column]
    else:  # tokens/s measured at ``batch`` rows: a full step has full-batch/batch times more
      tokens_per_step = row['tokens per row'] * row['full batch']
      seconds = num_steps * tokens_per_step / row[column]
    out.append({'experiment': name, 'from': f'{row_name}, {column}',
                'hours': runs * seconds / 3600})
  return out


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--tiny', action='store_true', help='tiny sizes: seconds (the tests)')
  parser.add_argument('--budget_s', type=float, default=480.0)
  parser.add_argument('--cpu_batch', type=int, default=4,
                      help='transformer rows per step on a CPU (the full batch elsewhere)')
  parser.add_argument('--sampler_processes', type=int, default=min(os.cpu_count() or 1, 8),
                      help='host sampler processes measured beside the loop\'s one')
  parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__),
                                                    'accelerator_suite'))
  args = parser.parse_args(argv)
  start = time.perf_counter()
  on_cpu = jax.devices()[0].platform == 'cpu'
  device = device_name()
  share = args.budget_s / 3  # parity, transformers, margin for compiles
  rows = parity_rows(TINY_PARITY if args.tiny else PARITY, share / (2 if args.tiny else 3))
  rows += transformer_rows(args.tiny, args.cpu_batch if on_cpu or args.tiny else None,
                           share / 4, args.sampler_processes)
  result = {'device': device, 'date': time.strftime('%Y-%m-%d'),
            'jax': jax.__version__, 'host': platform.machine(), 'tiny': args.tiny,
            'rows': rows, 'projections': [] if args.tiny else projections(rows),
            'wall_s': time.perf_counter() - start}
  table = markdown(result)
  print(table)
  with open(args.out + '.json', 'w') as f:
    json.dump(result, f, indent=2)
  with open(args.out + '.md', 'w') as f:
    f.write(table + '\n')
  return result


def markdown(result: dict) -> str:
  def cell(v):
    return '-' if v is None else f'{v:,.0f}' if isinstance(v, float) else str(v)

  lines = [f'Device: **{result["device"]}**, jax {result["jax"]}, {result["date"]}'
           f'{" (tiny sizes)" if result["tiny"] else ""}; wall {result["wall_s"]:.0f} s', '',
           '| workload | unit | block path / fp32 | per-step / bf16 | PyTorch / host sampler | '
           'batch measured |', '|---|---|---:|---:|---:|---:|']
  for r in result['rows']:
    if r['unit'] == 'steps/s':
      cells = (r.get('block path'), r.get('per-step'), r.get('PyTorch'), 1)
    else:
      cells = (r.get('fp32'), r.get('bf16'), r.get('host sampler'),
               f'{r["batch"]} of {r["full batch"]}')
    lines.append(f'| {r["workload"]} | {r["unit"]} | ' + ' | '.join(cell(c) for c in cells) +
                 ' |')
  for r in result['rows']:
    if r.get('host sampler') and r.get('fp32'):
      lines += ['', sampler_verdict(r)]
  if result['projections']:
    lines += ['', '| full-size experiment | projected hours | from |', '|---|---:|---|']
    lines += [f'| {p["experiment"]} | {p["hours"]:.2f} | {p["from"]} |'
              for p in result['projections']]
  return '\n'.join(lines)


def sampler_verdict(row: dict) -> str:
  """Whether the host samples PCFG sentences as fast as the device consumes them (the loop
  makes the next chunk's data while the device runs the current one)."""
  sampled, pooled = row['host sampler'], row.get('host sampler pool')
  processes = row.get('host sampler processes', 1)
  consumed = max(row[k] for k in ('fp32', 'bf16') if row.get(k))
  text = (f'Host PCFG sampler ({row["workload"]}): {sampled:,.0f} tokens/s in one process '
          f'({sampled / consumed:.1f}x the fastest step\'s {consumed:,.0f} tokens/s)')
  if pooled:
    text += (f', {pooled:,.0f} with {processes} processes ({pooled / consumed:.1f}x, '
             f'`--config.loop.host_data_processes={processes}`)')
  if sampled >= consumed:
    return text + ': one process keeps ahead.'
  if pooled and pooled >= consumed:
    return text + f': one process falls behind; {processes} keep ahead.'
  return text + (': the host falls behind (the run would wait on data: sampling on the device '
                 'needed).')



if __name__ == '__main__':
  main()
