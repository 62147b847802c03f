"""What a PCFG masked-LM pipeline writes beside its comparison: Figure 4 and a Figure 5 table.

  pcfg_phases.png  the teacher's loss phases, its 3-gram M_robust over checkpoints and, when the
                   pipeline ran ``progressive:CxT`` entries, the (2, T) sweep (probes.pcfg_phases)
  pcfg_probes.md   per run group (teacher, then each student method, mean +- std over seeds):
                   M_robust and M_close per n-gram window (probes.ngram), and the non-terminal
                   linear probe's accuracy per depth beside the majority-class baseline
                   (probes.nonterminal)

  python -m pdistill.probes.pcfg_report runs/pcfg_bert   # redo both from a pipeline's runs
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

from pdistill.data import pcfg
from pdistill.probes import ngram, nonterminal, pcfg_phases
from pdistill.storage import run_config

WINDOWS = (2, 4, 8)  # n neighbours: 1, 2 and 4 on each side of p (pdcfg5 sentences are short)
TABLE = 'pcfg_probes.md'
FIGURE = 'pcfg_phases.png'


def _cell(values) -> str:
  values = np.asarray(values)
  mean = f'{values.mean():.3f}'
  return mean if len(values) == 1 else f'{mean} ± {values.std():.3f}'


def probe_table(groups: dict[str, list[str]], windows=WINDOWS, ngram_sentences: int = 32,
                probe_sentences: tuple[int, int] = (256, 128)) -> str:
  """Two markdown tables over ``groups`` ({label: [workdirs]}, e.g. teacher and each method).

  ``probe_sentences``: the non-terminal probe's (train, test) sentences.
  """
  first = next(iter(groups.values()))[0]
  grammar_name = run_config.read(first)['data']['grammar']
  depths = list(nonterminal.probed_depths(pcfg.load(grammar_name)))
  ngram_rows, probe_rows = [], []
  for label, workdirs in groups.items():
    grams = [ngram.run_metrics(w, windows, ngram_sentences) for w in workdirs]
    probes = [nonterminal.probe(w, *probe_sentences) for w in workdirs]
    ngram_rows.append(f'| {label} | {len(workdirs)} | ' + ' | '.join(
        f'{_cell([g[n][0] for g in grams])} | {_cell([g[n][1] for g in grams])}'
        for n in windows) + ' |')
    probe_rows.append(f'| {label} | {len(workdirs)} | ' + ' | '.join(
        _cell([p[d] for p in probes]) for d in depths) + ' |')
  base = nonterminal.majority_baseline(grammar_name, probe_sentences[1])
  return '\n'.join(
      ['n-gram metrics (median total variation; low M_close = predicts from the n nearest '
       'tokens, low M_robust = unmoved when they are masked):', '',
       '| run | seeds | ' + ' | '.join(f'M_robust n={n} | M_close n={n}' for n in windows) + ' |',
       '|---|---|' + '---|---|' * len(windows), *ngram_rows, '',
       'non-terminal linear probe, held-out accuracy per depth (depth 1 = just below the root):',
       '', '| run | seeds | ' + ' | '.join(f'depth {d}' for d in depths) + ' |',
       '|---|---|' + '---|' * len(depths),
       '| majority class | — | ' + ' | '.join(f'{base[d]:.3f}' for d in depths) + ' |',
       *probe_rows])


def write(root: str, teacher: str, runs: dict[str, list[str]], manual: int | None = None):
  """Writes ``root/pcfg_phases.png`` and ``root/pcfg_probes.md``; returns the table."""
  rows = ngram.trajectory_metrics(teacher, (pcfg_phases.THREE_GRAM,))
  sweep = pcfg_phases.sweep_results(root)
  pcfg_phases.plot(teacher, os.path.join(root, FIGURE), rows, sweep if sweep[0] else None,
                   manual)
  groups = {'teacher': [teacher]}
  groups.update({label: dirs for label, dirs in runs.items()
                 if not pcfg_phases.SWEEP_RUN.search(label)})
  table = probe_table(groups)
  with open(os.path.join(root, TABLE), 'w') as f:
    f.write(table + '\n')
  return table


def pipeline_runs(root: str) -> dict[str, list[str]]:
  """{label: [seed workdirs]} of the student runs under a pipeline's ``root``."""
  runs = {}
  for seed_dir in sorted(glob.glob(os.path.join(root, '*', 'seed_*'))):
    runs.setdefault(os.path.basename(os.path.dirname(seed_dir)), []).append(seed_dir)
  return runs


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('root', help='a pipeline workdir: teacher/ and <method>/seed_<s>/ runs')
  parser.add_argument('--manual', type=int, help='a hand-chosen first checkpoint to mark')
  args = parser.parse_args(argv)
  print(write(args.root, os.path.join(args.root, 'teacher'), pipeline_runs(args.root),
              args.manual))
  return 0


if __name__ == '__main__':
  sys.exit(main())
