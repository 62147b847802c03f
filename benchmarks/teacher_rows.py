"""Rows/s of a distillation chunk's teacher forward pass against ``loop.teacher_batch_rows``.

A distillation chunk computes the teacher's outputs for all of its batches before stepping
(``steps.make_chunk_fn`` -> ``steps.apply_in_batches``), in groups of at most
``teacher_batch_rows`` rows.  The default, 4,096, suits batch-1 MLP runs; this measures a
transformer teacher on the CPU, one chunk of the parity transformer repro (500 steps x batch
32 = 16,000 sequences of 20 tokens), and prints each group size's rows/s and its ratio to the
default measured in the same run.

  python benchmarks/teacher_rows.py [--repeats 5] [--heads 16] [--width 128]

Results are recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from pdistill import steps
from pdistill.models.transformer import Transformer

DEFAULT_ROWS = 4096


def rows_per_second(apply, params, tokens, max_rows: int, repeats: int) -> float:
  fn = jax.jit(lambda p, x: steps.apply_in_batches(lambda b: apply(p, b), x, max_rows))
  fn(params, tokens).block_until_ready()  # compile
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn(params, tokens).block_until_ready()
    times.append(time.perf_counter() - start)
  return tokens.shape[0] / float(np.median(times))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--heads', type=int, default=16)
  parser.add_argument('--width', type=int, default=128)
  parser.add_argument('--seq', type=int, default=20)
  parser.add_argument('--rows', type=int, default=500 * 32, help='rows in one chunk')
  args = parser.parse_args()
  model = Transformer(vocab_size=2, num_outputs=2, width=args.width, depth=2,
                      num_heads=args.heads, max_len=args.seq, causal=True, readout='last')
  rng = np.random.default_rng(0)
  tokens = jnp.asarray(rng.integers(0, 2, (args.rows, args.seq)), jnp.int32)
  params = model.init(jax.random.PRNGKey(0), tokens[:1])
  print(f'{platform.processor() or platform.machine()}, jax {jax.__version__}, '
        f'{jax.device_count()} {jax.default_backend()} device(s); teacher {args.heads} heads, '
        f'width {args.width}, {args.rows:,} rows of {args.seq} tokens; median of {args.repeats}')
  baseline = rows_per_second(model.apply, params, tokens, DEFAULT_ROWS, args.repeats)
  print(f'teacher_batch_rows={DEFAULT_ROWS:>5} (default): {baseline:9,.0f} rows/s  1.00x')
  for rows in (1024, 512, 256, 128, 64, 32):
    rate = rows_per_second(model.apply, params, tokens, rows, args.repeats)
    print(f'teacher_batch_rows={rows:>5}:           {rate:9,.0f} rows/s  {rate / baseline:.2f}x')


if __name__ == '__main__':
  main()
