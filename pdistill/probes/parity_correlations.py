"""Monomial correlations of a parity model: |E[chi_S(x) f(x)]| with f = P(class 1 | x).

Works on MLP runs (inputs in {-1,+1}^n) and transformer runs (the same points as tokens,
``data.as_tokens``; the class is read at the last position, as in training).

For the k-sparse parity on support T, the target's only non-zero Fourier coefficient is chi_T.
During the teacher's phase transition the correlations with the low-degree monomials inside T
rise briefly (the "spike"), while monomials that touch coordinates outside T stay at the
sampling noise level (about 1/sqrt(num_examples)).  This is the paper's evidence that an
intermediate teacher carries an implicit curriculum.

  python -m pdistill.probes.parity_correlations --workdir=runs/teacher --out=spike.png
"""

from __future__ import annotations

import argparse
import itertools
import sys

import jax
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pdistill import saved_run  # noqa: E402
from pdistill.data import parity  # noqa: E402
from pdistill.metrics import plot as plot_lib  # noqa: E402
from pdistill.storage import trajectory  # noqa: E402

EXAMPLES = 16_384


def monomials(support, n: int, num_off_support: int = 100, seed: int = 0):
  """In-support monomials of every degree 1..|support|, then random ones not inside the support.

  Returns (list of coordinate tuples, list of labels 'in:d' / 'off:d').
  """
  support = tuple(sorted(support))
  k = len(support)
  sets, labels = [], []
  for degree in range(1, k + 1):
    for s in itertools.combinations(support, degree):
      sets.append(s)
      labels.append(f'in:{degree}')
  if n == k:
    return sets, labels  # every monomial lies inside the support
  rng = np.random.default_rng(seed)
  seen = set(sets)
  added = 0
  while added < num_off_support:
    degree = int(rng.integers(1, k + 1))
    s = tuple(sorted(rng.choice(n, degree, replace=False).tolist()))
    if s in seen or set(s) <= set(support):
      continue
    seen.add(s)
    sets.append(s)
    labels.append(f'off:{degree}')
    added += 1
  return sets, labels


def correlations(x: np.ndarray, f: np.ndarray, sets) -> np.ndarray:
  """|mean_i chi_S(x_i) f(x_i)| for each coordinate set S; x in {-1,+1}^{N x n}, f in R^N."""
  chi = np.stack([np.prod(x[:, list(s)], axis=1) for s in sets], axis=1)
  return np.abs(chi.T @ f) / len(f)


def probe_examples(n: int, seed: int = 0, size: int = EXAMPLES) -> np.ndarray:
  return np.random.default_rng(seed).choice([-1.0, 1.0], size=(size, n)).astype(np.float32)


def class1_probability(apply_fn, params, x) -> np.ndarray:
  return np.asarray(jax.nn.softmax(apply_fn({'params': params}, x))[:, 1])


def summarize(values: np.ndarray, labels) -> dict[str, float]:
  """Mean |correlation| per group ('in:1', ..., 'off' = every off-support monomial)."""
  groups = {}
  for v, label in zip(values, labels):
    groups.setdefault(label if label.startswith('in') else 'off', []).append(v)
  return {g: float(np.mean(v)) for g, v in sorted(groups.items())}


def trajectory_correlations(workdir: str, num_off_support: int = 100, examples: int = EXAMPLES):
  """[(step, eval_accuracy, {group: mean |corr|})] over a parity teacher's saved trajectory."""
  model, task, data = saved_run.frozen_model(workdir, ('sparse_parity',))
  if data.num_labels != 2:
    raise ValueError('the correlation probe needs a 2-label parity run')
  support = parity.make_task(data.n, data.k, 2, data.support, data.support_seed).supports[0]
  sets, labels = monomials(support, data.n, num_off_support)
  x = probe_examples(data.n, size=examples)
  inputs = np.asarray(parity.to_tokens(x)) if data.get('as_tokens', False) else x
  abstract = saved_run.abstract_params(model, task)
  apply = jax.jit(model.apply)  # one compilation for every checkpoint
  rows = []
  for entry in trajectory.read_metrics(workdir):
    params = trajectory.load_params(workdir, entry['step'], abstract)
    f = class1_probability(apply, params, inputs)
    rows.append((entry['step'], entry.get('eval_accuracy'),
                 summarize(correlations(x, f, sets), labels)))
  return rows


def plot_spike(rows, out: str) -> str:
  steps = [r[0] for r in rows]
  fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
  top.plot(steps, [r[1] for r in rows], color='black')
  top.set(ylabel='eval accuracy', title='teacher trajectory')
  groups = sorted(rows[0][2], key=lambda g: (g == 'off', g))
  for g in groups:
    style = dict(color='gray', ls='--') if g == 'off' else {}
    name = 'off-support (mean)' if g == 'off' else f'in-support degree {g.split(":")[1]}'
    bottom.plot(steps, [r[2][g] for r in rows], label=name, **style)
  # Log scale: the full-support correlation (up to 0.5) would flatten the low-degree spike.
  bottom.set(xlabel='teacher step', ylabel='mean |E[chi_S f]| (log)', yscale='log')
  bottom.legend(fontsize=8)
  return plot_lib.save(fig, out, dpi=120)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', required=True,
                      help='a sparse-parity run (MLP or transformer) with a trajectory')
  parser.add_argument('--out', required=True, help='PNG to write')
  parser.add_argument('--off_support', type=int, default=100)
  parser.add_argument('--examples', type=int, default=EXAMPLES)
  args = parser.parse_args(argv)
  if not trajectory.exists(args.workdir):
    parser.error(f'{args.workdir} has no trajectory/')
  rows = trajectory_correlations(args.workdir, args.off_support, args.examples)
  for step, acc, groups in rows:
    print(step, f'{acc:.3f}', ' '.join(f'{g}={v:.3f}' for g, v in groups.items()))
  print(plot_spike(rows, args.out))
  return 0


if __name__ == '__main__':
  sys.exit(main())
