"""Claims over (teacher, student seed) pairs, stated with their uncertainty.

A pipeline with several teachers trains every student method once per (teacher seed, student
seed): a *pair*.  Transition times move with the seed, the machine and the library versions, so
a claim such as "progressive learns about as fast as its teacher" is stated over pairs: how
many reach the threshold, each pair's first step at the threshold divided by its own teacher's,
the median of those ratios with a bootstrap interval, and, between two methods, the paired
ratio over the same (teacher, student seed) pairs.  A pair whose teacher never reached the
threshold is left out of the claim and counted.
"""

from __future__ import annotations

import numpy as np

RESAMPLES = 10_000  # bootstrap resamples
LEVEL = 0.95


def bootstrap_median(values, resamples: int = RESAMPLES, level: float = LEVEL,
                     seed: int = 0) -> tuple[float, float, float]:
  """(median, low, high): the median of ``values`` and a percentile bootstrap interval for it.

  ``inf`` is allowed (a run that never reached the threshold is slower than any that did);
  the interval's ends are order statistics of the resampled medians, never interpolated, so
  an end is ``inf`` exactly when that many resamples have an infinite median.
  """
  values = np.asarray(values, np.float64)
  rng = np.random.default_rng(seed)
  medians = np.sort(np.median(values[rng.integers(0, len(values), (resamples, len(values)))],
                              axis=1))
  low = medians[int(np.floor((1 - level) / 2 * (resamples - 1)))]
  high = medians[int(np.ceil((1 + level) / 2 * (resamples - 1)))]
  return float(np.median(values)), float(low), float(high)


def _ratio(first, yardstick) -> float:
  return np.inf if first is None else first / yardstick


def _fmt(x: float) -> str:
  return '∞' if np.isinf(x) else f'{x:.2f}'


def _interval(values) -> str:
  median, low, high = bootstrap_median(values)
  return f'{_fmt(median)} [{_fmt(low)}, {_fmt(high)}]'


def claims_table(firsts: dict[str, dict[str, int | None]],
                 teacher_firsts: dict[str, int | None], threshold: float) -> str:
  """Markdown: per method, and between progressive and the other methods, over pairs.

  ``firsts[label][pair]``: the pair's student's first step at ``threshold`` (None: never);
  ``teacher_firsts[pair]``: its teacher's.
  """
  counted = {p for p, t in teacher_firsts.items() if t}
  lost = sorted(set(teacher_firsts) - counted)
  lines = [f'| method | pairs | reach {threshold:.0%} | first step / its teacher\'s: median '
           f'[{LEVEL:.0%} bootstrap interval] |', '|---|---|---|---|']
  for label, by_pair in firsts.items():
    pairs = sorted(set(by_pair) & counted)
    if not pairs:
      continue
    reached = sum(by_pair[p] is not None for p in pairs)
    ratios = [_ratio(by_pair[p], teacher_firsts[p]) for p in pairs]
    lines.append(f'| {label} | {len(pairs)} | {reached} of {len(pairs)} | '
                 f'{_interval(ratios)} |')
  paired = []
  for a in (label for label in firsts if label.startswith('progressive')):
    for b in (label for label in firsts if label.split('@')[0] in ('ce', 'one_shot')):
      pairs = sorted(set(firsts[a]) & set(firsts[b]) & counted)
      both = [(firsts[a][p], firsts[b][p]) for p in pairs]
      both = [(x, y) for x, y in both if x is not None or y is not None]  # neither: no order
      if not both:
        continue
      ahead = sum((x if x is not None else np.inf) < (y if y is not None else np.inf)
                  for x, y in both)
      ratios = [np.inf if x is None else (0.0 if y is None else x / y) for x, y in both]
      paired.append(f'| {a} / {b} | {len(both)} | {ahead} of {len(both)} | '
                    f'{_interval(ratios)} |')
  if paired:
    lines += ['', f'| paired over the same (teacher, student seed) | pairs | first ahead | '
              f'first step ratio: median [{LEVEL:.0%} bootstrap interval] |',
              '|---|---|---|---|'] + paired
  if lost:
    lines += ['', f'Left out: {len(lost)} pair(s) whose teacher never reached {threshold:.0%} '
              f'({", ".join(lost)}).']
  return '\n'.join(lines)
