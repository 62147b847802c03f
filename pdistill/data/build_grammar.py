"""pdistill's own cfg3-style grammars, and the exact sentence-length statistics of any grammar.

The cfg3 family (Allen-Zhu & Li 2023) is built level by level: the root ``s``, then levels of
three non-terminals, then the pre-terminals a/b/c; every symbol of a level has 2-4 rules, each
rewriting it into 2-3 symbols of the next level, alternatives equally likely (stored as the
reference stores them: rounded to 3 decimals, the remainder on the last alternative).
``build`` draws such a grammar from a seed with fewer levels, so that its sentences are short
enough for a CPU; ``length_stats`` computes the distribution of the number of terminals
exactly, by dynamic programming over the rules (a symbol's length distribution is the
rule-weighted mixture of the convolutions of its children's), for the JSON's
``sentence_length_stats``.

  python -m pdistill.data.build_grammar --name=pdcfg5 --levels=5 --seed=0

writes ``pdistill/data/grammars/pdcfg5.json`` (the shipped file was made by that command).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

TERMINALS = ('a', 'b', 'c')
TOKEN_IDS = {'a': 0, 'b': 1, 'c': 2, 'BOS': 3, 'EOS': 4, 'PAD': 5, 'MASK': 6}
# cfg3's letters from the bottom up: a/b/c pre-terminals, d/e/f above them, ... s the root.
LEVEL_NAMES = ('abc', 'def', 'ghi', 'jkl', 'mno', 'pqr')
QUANTILES = (1, 5, 25, 50, 75, 95, 99)


def _length_pmfs(spec: dict) -> dict[str, np.ndarray]:
  """Each symbol's distribution of terminal counts: pmf[L] = P(the symbol yields L terminals)."""
  by_lhs: dict[str, list] = {}
  for rule in spec['rules']:
    by_lhs.setdefault(rule['lhs'], []).append(rule)
  pmfs = {s: np.array([0.0, 1.0]) for s in spec['nonterminal_levels'][-1]}  # pre-terminals
  for level in reversed(spec['nonterminal_levels'][:-1]):
    for symbol in level:
      rules = by_lhs[symbol]
      total = sum(r['prob'] for r in rules)
      mix = np.zeros(1)
      for rule in rules:
        pmf = np.ones(1)
        for child in rule['rhs']:
          pmf = np.convolve(pmf, pmfs[child])
        width = max(len(mix), len(pmf))
        mix = np.pad(mix, (0, width - len(mix))) + rule['prob'] / total * np.pad(
            pmf, (0, width - len(pmf)))
      pmfs[symbol] = mix
  return pmfs


def length_stats(spec: dict) -> dict:
  """Exact summary of the number of terminals per sentence, in the cfg3 JSON's format."""
  pmf = _length_pmfs(spec)[spec['start_symbol']]
  lengths = np.arange(len(pmf))
  support = lengths[pmf > 0]
  mean = float((lengths * pmf).sum())
  std = float(np.sqrt(((lengths - mean) ** 2 * pmf).sum()))
  cdf = np.cumsum(pmf)
  # Quantile q: the smallest length whose cumulative probability reaches q (1e-12: rounding).
  quantiles = {str(q): int(np.searchsorted(cdf, q / 100 - 1e-12)) for q in QUANTILES}
  return {'unit': 'number of terminals per sentence (model sequences add 1 BOS token)',
          'computed': 'exactly, by dynamic programming over the rules (not sampled)',
          'min': int(support.min()), 'max': int(support.max()), 'mean': round(mean, 4),
          'std': round(std, 4), 'quantiles_percent': quantiles}


def reference_probs(count: int) -> list[float]:
  """Equal alternatives as the reference stores them: 3 decimals, the remainder on the last."""
  probs = [round(1 / count, 3)] * (count - 1)
  return probs + [round(1 - sum(probs), 3)]


def build(name: str, levels: int, seed: int, rules_per_symbol=(2, 4), rhs_lengths=(2, 3)) -> dict:
  """A cfg3-style grammar with ``levels`` depths (root, levels-2 levels of 3, pre-terminals)."""
  if not 3 <= levels <= len(LEVEL_NAMES) + 1:
    raise ValueError(f'levels must be 3..{len(LEVEL_NAMES) + 1} (cfg3 has 7), got {levels}')
  rng = np.random.default_rng(seed)
  tiers = [['s']] + [list(LEVEL_NAMES[i]) for i in reversed(range(levels - 1))]
  rules = []
  for depth, tier in enumerate(tiers[:-1]):
    below = tiers[depth + 1]
    for symbol in tier:
      count = int(rng.integers(rules_per_symbol[0], rules_per_symbol[1] + 1))
      seen = set()
      while len(seen) < count:  # distinct right-hand sides, as in cfg3
        size = int(rng.integers(rhs_lengths[0], rhs_lengths[1] + 1))
        seen.add(tuple(str(c) for c in rng.choice(below, size)))
      for rhs, prob in zip(sorted(seen), reference_probs(count)):
        rules.append({'lhs': symbol, 'rhs': list(rhs), 'prob': prob})
  spec = {
      'schema': 'pcfg-json/v1',
      'name': name,
      'origin': (f"pdistill's own grammar, built by `python -m pdistill.data.build_grammar "
                 f"--name={name} --levels={levels} --seed={seed}` with the cfg3 construction "
                 f'(Allen-Zhu & Li 2023): {levels} depths instead of 7, so sentences are short '
                 'enough for CPU reproductions. Not from the reference repo.'),
      'field_notes': {
          'nonterminal_levels': ('non-terminals grouped by tree depth (index 0 = root); a rule '
                                 'whose lhs is at depth k has only depth-(k+1) symbols on its rhs; '
                                 'the last level a/b/c are pre-terminals'),
          'rules': 'lhs rewrites to the rhs sequence with probability prob',
          'lexical_rules': 'pre-terminal emits the identically named terminal',
          'sentence_length_stats': 'exact distribution summary of the number of terminals',
      },
      'start_symbol': 's',
      'terminals': list(TERMINALS),
      'nonterminal_levels': tiers,
      'token_ids': dict(TOKEN_IDS),
      'vocab_size': len(TOKEN_IDS),
      'rules': rules,
      'lexical_rules': [{'lhs': t, 'terminal': t, 'prob': 1.0} for t in TERMINALS],
  }
  spec['sentence_length_stats'] = length_stats(spec)
  return spec


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--name', required=True)
  parser.add_argument('--levels', type=int, default=5)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--out_dir', default=os.path.join(os.path.dirname(__file__), 'grammars'))
  args = parser.parse_args(argv)
  try:
    spec = build(args.name, args.levels, args.seed)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  path = os.path.join(args.out_dir, f'{args.name}.json')
  with open(path, 'w') as f:
    json.dump(spec, f, indent=1)
    f.write('\n')
  print(path, spec['sentence_length_stats'])
  return 0


if __name__ == '__main__':
  sys.exit(main())
