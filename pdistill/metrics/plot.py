"""Eval accuracy vs step for several student methods (mean +- std over seeds) in one PNG.

From the shell::

  python -m pdistill.metrics.plot --out=fig.png --teacher=runs/teacher \
      ce=runs/ce_s0,runs/ce_s1 progressive=runs/prog_s0,runs/prog_s1
"""

from __future__ import annotations

import argparse
import os
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pdistill.metrics import log as metrics_log  # noqa: E402


def _curve(workdir: str, metric: str):
  rows = [r for r in metrics_log.read(workdir) if metric in r]
  return np.array([r['step'] for r in rows]), np.array([r[metric] for r in rows])


def mean_std_curve(workdirs: list[str], metric: str):
  """Steps common to all runs, and the mean and std of ``metric`` over runs at those steps."""
  curves = [_curve(w, metric) for w in workdirs]
  common = sorted(set.intersection(*(set(s.tolist()) for s, _ in curves)))
  values = np.stack([[dict(zip(s.tolist(), v))[c] for c in common] for s, v in curves])
  return np.array(common), values.mean(0), values.std(0)


def _intermediate_teacher_steps(workdir: str) -> list[int]:
  """The teacher checkpoints a progressive run used before the final one (from its metrics)."""
  used = sorted({int(r['teacher_step']) for r in metrics_log.read(workdir) if 'teacher_step' in r})
  return used[:-1]


def plot_comparison(runs: dict[str, list[str]], out: str, teacher_workdir: str | None = None,
                    metric: str = 'eval_accuracy', title: str = 'students',
                    xlabel: str = 'student step') -> str:
  panels = 2 if teacher_workdir else 1
  fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
  axes = axes[0]
  if teacher_workdir:
    ax = axes[0]
    steps, values = _curve(teacher_workdir, metric)
    ax.plot(steps, values, color='black')
    used = sorted({c for ws in runs.values() for w in ws for c in _intermediate_teacher_steps(w)})
    for c in used:
      ax.axvline(c, color='tab:red', ls='--', lw=1)
    ax.set(title='teacher' + (' (dashed: intermediate checkpoints used)' if used else ''),
           xlabel='teacher step', ylabel=metric)
  ax = axes[-1]
  for i, (label, workdirs) in enumerate(runs.items()):
    color = f'C{i}'
    steps, mean, _ = mean_std_curve(workdirs, metric)
    ax.plot(steps, mean, color=color, lw=2,
            label=f'{label} (mean of {len(workdirs)})' if len(workdirs) > 1 else label)
    if len(workdirs) > 1:  # each seed thin: the spread of parity runs is bimodal, not Gaussian
      for w in workdirs:
        ax.plot(*_curve(w, metric), color=color, lw=0.7, alpha=0.35)
  ax.set(title=title, xlabel=xlabel, ylabel=metric)
  ax.legend(loc='lower right')
  for a in axes:
    a.grid(alpha=0.3)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  fig.savefig(out, dpi=120)
  plt.close(fig)
  return out


def budgets(num_steps: int) -> list[int]:
  """Step budgets for a summary table: early ones show who learns first."""
  return [num_steps // 20, num_steps // 10, num_steps // 4, num_steps // 2, num_steps]


def accuracy_table(runs: dict[str, list[str]], steps: list[int],
                   metric: str = 'eval_accuracy', label_header: str = 'method') -> str:
  """Markdown table: ``metric`` mean +- std over seeds at each step budget (nearest eval <= it)."""
  lines = [f'| {label_header} | seeds | ' + ' | '.join(f'step {s:,}' for s in steps) + ' |',
           '|---|---|' + '---|' * len(steps)]
  for label, workdirs in runs.items():
    common, mean, std = mean_std_curve(workdirs, metric)
    cells = []
    for s in steps:
      i = np.searchsorted(common, s, side='right') - 1
      cells.append(f'{mean[i]:.3f} ± {std[i]:.3f}' if i >= 0 else '')
    lines.append(f'| {label} | {len(workdirs)} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', required=True, help='PNG to write')
  parser.add_argument('--teacher', help='teacher workdir, drawn in a panel of its own')
  parser.add_argument('--metric', default='eval_accuracy')
  parser.add_argument('runs', nargs='+', help='LABEL=WORKDIR[,WORKDIR...] (several = seeds)')
  args = parser.parse_args(argv)
  runs = {}
  for spec in args.runs:
    label, sep, dirs = spec.partition('=')
    if not sep or not dirs:
      parser.error(f'run {spec!r} is not LABEL=WORKDIR[,WORKDIR...]')
    runs[label] = dirs.split(',')
    for d in runs[label]:
      if not os.path.exists(os.path.join(d, metrics_log.FILENAME)):
        parser.error(f'{d} has no {metrics_log.FILENAME}: not a finished or running pdistill run')
  print(plot_comparison(runs, args.out, args.teacher, args.metric))
  return 0


if __name__ == '__main__':
  sys.exit(main())
