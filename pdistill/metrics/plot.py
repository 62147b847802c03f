"""Eval accuracy vs step for several student methods (mean +- std over seeds) in one PNG.

From the shell::

  python -m pdistill.metrics.plot --out=fig.png --teacher=runs/teacher \
      ce=runs/ce_s0,runs/ce_s1 progressive=runs/prog_s0,runs/prog_s1
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pdistill.metrics import log as metrics_log  # noqa: E402

log = logging.getLogger('pdistill')


def _curve(workdir: str, metric: str):
  rows = [r for r in metrics_log.read(workdir) if metric in r]
  return np.array([r['step'] for r in rows]), np.array([r[metric] for r in rows])


def with_records(runs: dict[str, list[str]], metric: str) -> dict[str, list[str]]:
  """``runs`` without the workdirs that have no ``metric`` records (each named in a warning:
  a run whose metrics.jsonl was lost); a label left with none is dropped."""
  kept = {}
  for label, workdirs in runs.items():
    have = [w for w in workdirs if len(_curve(w, metric)[0])]
    for w in sorted(set(workdirs) - set(have)):
      log.warning('%s has no %s records (its %s is missing or empty): left out of the '
                  'comparison', w, metric, metrics_log.FILENAME)
    if have:
      kept[label] = have
  return kept


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


def plot_comparison(runs: dict[str, list[str]], out: str,
                    teacher_workdir: str | list[str] | None = None,
                    metric: str = 'eval_accuracy', title: str = 'students',
                    xlabel: str = 'student step') -> str:
  """The teacher's curve, then one panel per method: no curve can hide another.

  A method's panel has its mean over seeds (thick) and each seed (thin); with a teacher, its
  own curve is drawn faintly in every panel (on the same step axis, the yardstick of "learns
  as fast as the teacher") and the intermediate checkpoints the students used are dashed.
  """
  runs = with_records(runs, metric)
  panels = max(len(runs) + (1 if teacher_workdir else 0), 1)
  cols = min(panels, 3)
  rows = -(-panels // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False,
                           sharey=True)
  axes = list(axes.ravel())
  for extra in axes[panels:]:
    extra.set_visible(False)
  teachers = ([teacher_workdir] if isinstance(teacher_workdir, str) else
              list(teacher_workdir or []))
  curves = [_curve(t, metric) for t in teachers]
  if teacher_workdir:
    ax = axes.pop(0)
    for curve in curves:  # several teachers (one per seed): each drawn, none hidden
      ax.plot(*curve, color='black', lw=1.5 if len(curves) == 1 else 0.9,
              alpha=1 if len(curves) == 1 else 0.6)
    used = sorted({c for ws in runs.values() for w in ws for c in _intermediate_teacher_steps(w)})
    for c in used:
      ax.axvline(c, color='tab:red', ls='--', lw=1)
    ax.set(title=('teacher' if len(teachers) == 1 else f'{len(teachers)} teachers')
           + (' (dashed: checkpoints used)' if used else ''),
           xlabel='teacher step', ylabel=metric)
  right = max((max(_curve(w, metric)[0].max() for w in ws) for ws in runs.values()),
              default=0)
  for i, (label, workdirs) in enumerate(runs.items()):
    ax, color = axes[i], f'C{i}'
    for j, (steps, values) in enumerate(curves):
      keep = steps <= right
      ax.plot(steps[keep], values[keep], color='black', lw=1, alpha=0.3,
              label='teacher' if len(curves) == 1 else 'teachers' if j == 0 else None)
    steps, mean, _ = mean_std_curve(workdirs, metric)
    if len(workdirs) > 1:  # each seed thin: the spread of parity runs is bimodal, not Gaussian
      for w in workdirs:
        ax.plot(*_curve(w, metric), color=color, lw=0.8, alpha=0.45)
    ax.plot(steps, mean, color=color, lw=2,
            label=f'mean of {len(workdirs)}' if len(workdirs) > 1 else label)
    ax.set(title=f'{title}: {label}' if title else label, xlabel=xlabel)
    ax.legend(loc='lower right', fontsize='small')
  return save(fig, out)


def save(fig, out: str, dpi: int = 110) -> str:
  """Grid on every panel, tight layout, the PNG written (its folder made), the figure closed."""
  for a in fig.axes:
    a.grid(alpha=0.3)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  fig.savefig(out, dpi=dpi)
  plt.close(fig)
  return out


def budgets(num_steps: int) -> list[int]:
  """Step budgets for a summary table: early ones show who learns first."""
  return [num_steps // 20, num_steps // 10, num_steps // 4, num_steps // 2, num_steps]


def accuracy_table(runs: dict[str, list[str]], steps: list[int],
                   metric: str = 'eval_accuracy', label_header: str = 'method') -> str:
  """Markdown table: ``metric`` mean +- std over seeds at each step budget (nearest eval <= it).

  A seed whose loss went non-finite (a diverged run or sweep member) is left out of the mean
  from that step on, and the cell says how many diverged: a diverged run's accuracy is that of
  NaN logits, not a result.
  """
  lines = [f'| {label_header} | seeds | ' + ' | '.join(f'step {s:,}' for s in steps) + ' |',
           '|---|---|' + '---|' * len(steps)]
  for label, workdirs in with_records(runs, metric).items():
    records = {w: metrics_log.read(w) for w in workdirs}
    curves = {w: {r['step']: r[metric] for r in rs if metric in r} for w, rs in records.items()}
    diverged = {w: metrics_log.diverged_at(rs) for w, rs in records.items()}
    cells = []
    for s in steps:
      values, lost = [], 0
      for w, curve in curves.items():
        at = [t for t in curve if t <= s]
        if diverged[w] is not None and diverged[w] <= s:
          lost += 1
        elif at:
          values.append(curve[max(at)])
      text = f'{np.mean(values):.3f} ± {np.std(values):.3f}' if values else ''
      if lost:
        text = (text + f' ({lost} diverged)').strip() if values else 'diverged'
      cells.append(text)
    lines.append(f'| {label} | {len(workdirs)} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def first_reach(workdir: str, threshold: float, metric: str = 'eval_accuracy') -> int | None:
  """The first evaluated step at which ``metric`` >= ``threshold`` (None: never)."""
  steps, values = _curve(workdir, metric)
  hits = np.flatnonzero(values >= threshold)
  return int(steps[hits[0]]) if hits.size else None


def first_reach_table(runs: dict[str, list[str]], threshold: float = 0.99,
                      teacher_workdir: str | None = None, metric: str = 'eval_accuracy') -> str:
  """Markdown table: per seed, the first step at which ``metric`` reaches ``threshold``.

  A seed that never does shows "—"; the teacher's own step (its own run's steps) is the last
  column, the yardstick the paper's claim is stated against.
  """
  runs = with_records(runs, metric)
  if not runs:
    return ''
  width = max(len(ws) for ws in runs.values())
  teacher = (first_reach(teacher_workdir, threshold, metric) if teacher_workdir else None)
  fmt = lambda s: '—' if s is None else f'{s:,}'  # noqa: E731
  names = {tuple(os.path.basename(os.path.normpath(w)) for w in ws) for ws in runs.values()}
  columns = (list(names.pop()) if len(names) == 1  # e.g. seed_0, seed_1, ... in a pipeline
             else [f'run {i + 1}' for i in range(width)])
  header = ['method'] + columns + ['median']
  if teacher_workdir:
    header.append('teacher')
  lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
  for label, workdirs in runs.items():
    reached = [first_reach(w, threshold, metric) for w in workdirs]
    # A seed that never reaches it counts as later than any that did.
    order = sorted(reached, key=lambda s: (s is None, s or 0))
    cells = [label] + [fmt(s) for s in reached] + [''] * (width - len(reached))
    cells.append(fmt(order[(len(order) - 1) // 2]))
    if teacher_workdir:
      cells.append(fmt(teacher))
    lines.append('| ' + ' | '.join(cells) + ' |')
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
