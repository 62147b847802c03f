"""The paper's Figure 4 for a PCFG masked-LM teacher: loss phases, 3-gram M_robust, C1 choice.

Three panels, from a run's own outputs:

  1. the teacher's eval loss over its steps, with the transition ``phase_transition`` finds on
     it (shaded) and its proposed checkpoint C1 (dashed; a manual choice, if given, dotted);
  2. the median M_robust (and M_close) of the n-gram probe for 3-grams (p and one neighbour on
     each side, ``probes.ngram``) at every saved checkpoint of the teacher;
  3. optionally, a (2, T) sweep: final student eval accuracy against the first teacher
     checkpoint of progressive students (``--sweep`` runs named ``progressive_<C>_<T>/seed_<s>``,
     mean +- std over seeds, one line per T), with the one-shot students' level marked.

  python -m pdistill.probes.pcfg_phases --teacher=runs/pcfg/teacher --out=phases.png \
      [--sweep=runs/pcfg] [--manual=400]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pdistill.distill import phase_transition  # noqa: E402
from pdistill.metrics import log as metrics_log  # noqa: E402
from pdistill.metrics import plot as plot_lib  # noqa: E402
from pdistill.probes import ngram  # noqa: E402

THREE_GRAM = 2  # neighbours: one on each side of p
SWEEP_RUN = re.compile(r'progressive_(\d+)_(\d+)$')


def _final_accuracy(workdir: str) -> float:
  return [r for r in metrics_log.read(workdir) if 'eval_accuracy' in r][-1]['eval_accuracy']


def sweep_results(root: str) -> tuple[dict, list[float]]:
  """({(first checkpoint, T): [final accuracy per seed]}, [one-shot finals]) under ``root``."""
  results = {}
  for path in sorted(glob.glob(os.path.join(root, 'progressive_*_*'))):
    match = SWEEP_RUN.search(path)
    if match:
      seeds = sorted(glob.glob(os.path.join(path, 'seed_*')))
      results[(int(match[1]), int(match[2]))] = [_final_accuracy(s) for s in seeds]
  one_shot = [_final_accuracy(s) for s in sorted(glob.glob(os.path.join(root, 'one_shot',
                                                                          'seed_*')))]
  return results, one_shot


def plot(teacher: str, out: str, ngram_rows, sweep=None, manual: int | None = None) -> str:
  panels = 3 if sweep else 2
  fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.8))
  rows = [r for r in metrics_log.read(teacher) if 'eval_loss' in r]
  steps, loss = [r['step'] for r in rows], [r['eval_loss'] for r in rows]
  t = phase_transition.find_in_trajectory(teacher, metric='eval_loss')
  ax = axes[0]
  ax.plot(steps, loss, color='black')
  ax.axvspan(t.start, t.end, color='tab:orange', alpha=0.15, label='transition (10-90%)')
  for c in t.proposed:
    ax.axvline(c, color='tab:red', ls='--', label=f'C1 = {c} (phase_transition)')
  if manual is not None and manual not in t.proposed:
    ax.axvline(manual, color='tab:blue', ls=':', label=f'manual choice {manual}')
  ax.set(title='teacher eval loss', xlabel='teacher step', ylabel='masked-LM loss')
  start = phase_transition.flat_start(loss)
  if start:  # the initial fit would flatten the phases that matter into the bottom of the panel
    rest = loss[start:]
    ax.set_ylim(min(rest) - 0.05 * (max(rest) - min(rest)), max(rest) + 0.15 * (max(rest) -
                                                                                 min(rest)))
    ax.text(0.98, 0.97, f'before step {steps[start]}: the initial fit\n(loss from '
            f'{loss[0]:.2f}), above this panel', transform=ax.transAxes, va='top', ha='right',
            fontsize='x-small', color='gray')
  ax.legend(fontsize='small', loc='center right')
  ax = axes[1]
  s = [r[0] for r in ngram_rows]
  ax.plot(s, [r[1][THREE_GRAM][0] for r in ngram_rows], color='tab:purple', marker='o', ms=3,
          label='M_robust (3-gram)')
  ax.plot(s, [r[1][THREE_GRAM][1] for r in ngram_rows], color='tab:gray', ls='--',
          label='M_close (3-gram)')
  for c in t.proposed:
    ax.axvline(c, color='tab:red', ls='--')
  ax.set(title='teacher n-gram metrics (median TV)', xlabel='teacher checkpoint')
  ax.legend(fontsize='small')
  if sweep:
    results, one_shot = sweep
    ax = axes[2]
    for i, T in enumerate(sorted({T for _, T in results})):
      firsts = sorted(c for c, t2 in results if t2 == T)
      values = [results[(c, T)] for c in firsts]
      ax.errorbar(firsts, [np.mean(v) for v in values], [np.std(v) for v in values],
                  color=f'C{i}', marker='o', capsize=3, label=f'(2, T={T})')
    if one_shot:
      ax.axhline(np.mean(one_shot), color='black', ls=':', label='one-shot (final teacher)')
    ax.set(title='students: first teacher checkpoint', xlabel='first checkpoint',
           ylabel='final eval accuracy')
    ax.legend(fontsize='small')
  return plot_lib.save(fig, out)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--teacher', required=True, help='a pcfg_mlm teacher run with a trajectory')
  parser.add_argument('--out', required=True, help='PNG to write')
  parser.add_argument('--sweep', help='folder holding progressive_<C>_<T>/ and one_shot/ runs')
  parser.add_argument('--manual', type=int, help='a hand-chosen first checkpoint to mark')
  parser.add_argument('--sentences', type=int, default=32)
  args = parser.parse_args(argv)
  rows = ngram.trajectory_metrics(args.teacher, (THREE_GRAM,), args.sentences)
  for step, m in rows:
    print(step, f'M_robust={m[THREE_GRAM][0]:.4f} M_close={m[THREE_GRAM][1]:.4f}')
  sweep = sweep_results(args.sweep) if args.sweep else None
  print(plot(args.teacher, args.out, rows, sweep, args.manual))
  return 0


if __name__ == '__main__':
  sys.exit(main())
