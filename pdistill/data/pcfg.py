"""The PCFGs (JSON in pdistill/data/grammars/) and a vectorised, seeded sampler.

The five cfg3 grammars of the paper, and pdistill's own ``pdcfg5`` (the cfg3 construction with
5 depths instead of 7, sentences of 20-54 terminals instead of 161-432; made by
pdistill/data/build_grammar.py). Every rule of a depth-d non-terminal has only depth-(d+1)
symbols on its right-hand side and the deepest symbols a/b/c are pre-terminals, so every
sentence is a tree with all leaves at the same depth (6 in cfg3). The sampler expands a whole
batch of trees level by level with numpy (one draw per node per level), which keeps a
512-sentence batch at a few milliseconds, and records for every terminal its ancestor at each
depth: the symbol, and a node id that tells apart two adjacent spans of the same symbol (what
the right-boundary targets and the non-terminal probes need).

The sampler differs from the reference's, which was unseeded and drew with np.random.choice
per node; it draws the same distribution.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

import numpy as np

GRAMMAR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'grammars')
REFERENCE_GRAMMARS = ('cfg3b', 'cfg3f', 'cfg3g', 'cfg3h', 'cfg3i')  # the paper's (shared/pcfg)
GRAMMARS = REFERENCE_GRAMMARS + ('pdcfg5',)


@dataclasses.dataclass(frozen=True)
class Grammar:
  name: str
  symbols: tuple[str, ...]  # every non-terminal, depth by depth; ids index this
  depth_of: tuple[int, ...]
  token_ids: dict
  cum_probs: np.ndarray  # [num_symbols, max_rules] cumulative rule probabilities (1 past the end)
  rhs: np.ndarray  # [num_symbols, max_rules, 3] child symbol ids, -1 = none
  rhs_len: np.ndarray  # [num_symbols, max_rules]
  max_terminals: int
  length_stats: dict

  @property
  def pad_id(self) -> int:
    return self.token_ids['PAD']

  @property
  def bos_id(self) -> int:
    return self.token_ids['BOS']

  @property
  def mask_id(self) -> int:
    return self.token_ids['MASK']

  @property
  def depths(self) -> int:
    """Tree depths: the root s at 0 ... the pre-terminals a/b/c at depths - 1 (7 in cfg3)."""
    return self.depth_of[-1] + 1

  @property
  def seq_len(self) -> int:
    """Model sequence length: BOS plus the longest possible sentence."""
    return self.max_terminals + 1


@functools.lru_cache(maxsize=None)
def load(name: str) -> Grammar:
  path = os.path.join(GRAMMAR_DIR, f'{name}.json')
  if name not in GRAMMARS or not os.path.exists(path):
    raise ValueError(f'unknown grammar {name!r}; available: {GRAMMARS}')
  with open(path) as f:
    spec = json.load(f)
  levels = spec['nonterminal_levels']
  symbols = tuple(s for level in levels for s in level)
  depth_of = tuple(d for d, level in enumerate(levels) for _ in level)
  index = {s: i for i, s in enumerate(symbols)}
  by_lhs = {s: [] for s in symbols}
  for rule in spec['rules']:
    by_lhs[rule['lhs']].append(rule)
  for rule in spec['lexical_rules']:  # pre-terminal -> terminal: a leaf, no children
    by_lhs[rule['lhs']].append({'rhs': [], 'prob': rule['prob']})
  max_rules = max(len(r) for r in by_lhs.values())
  cum = np.ones((len(symbols), max_rules), np.float64) * 2.0
  rhs = -np.ones((len(symbols), max_rules, 3), np.int32)
  rhs_len = np.zeros((len(symbols), max_rules), np.int32)
  for s, rules in by_lhs.items():
    i = index[s]
    probs = np.array([r['prob'] for r in rules])
    cum[i, :len(rules)] = np.cumsum(probs / probs.sum())
    cum[i, len(rules) - 1] = 1.0  # guard against rounding: the last rule takes the rest
    for j, r in enumerate(rules):
      rhs[i, j, :len(r['rhs'])] = [index[c] for c in r['rhs']]
      rhs_len[i, j] = len(r['rhs'])
  stats = spec['sentence_length_stats']
  return Grammar(name=name, symbols=symbols, depth_of=depth_of, token_ids=spec['token_ids'],
                 cum_probs=cum, rhs=rhs, rhs_len=rhs_len, max_terminals=stats['max'],
                 length_stats=stats)


@dataclasses.dataclass
class Sentences:
  tokens: np.ndarray  # [n, seq_len] int32: BOS, terminals, then PAD
  lengths: np.ndarray  # [n] number of terminals (sequence length is lengths + 1)
  # [n, seq_len, depths]: the depth-d ancestor's symbol id / node id (unique within the
  # batch); -1 at BOS and PAD
  ancestor_symbols: np.ndarray
  ancestor_nodes: np.ndarray


def sample(grammar: Grammar, rng: np.random.Generator, n: int) -> Sentences:
  symbols = np.zeros(n, np.int32)  # the root 's' is symbol 0
  sentence = np.arange(n)
  anc_sym = [symbols]
  anc_node = [np.arange(n)]
  next_node = n
  for _ in range(grammar.depths - 1):
    u = rng.random(len(symbols))
    rule = (u[:, None] > grammar.cum_probs[symbols]).sum(1)
    counts = grammar.rhs_len[symbols, rule]
    children = grammar.rhs[symbols, rule]
    parent = np.repeat(np.arange(len(symbols)), counts)
    symbols = children[children >= 0]
    sentence = sentence[parent]
    anc_sym = [a[parent] for a in anc_sym] + [symbols]
    anc_node = [a[parent] for a in anc_node] + [next_node + np.arange(len(symbols))]
    next_node += len(symbols)
  # The deepest symbols are the pre-terminals a/b/c.
  terminal_base = grammar.depth_of.index(grammar.depths - 1)
  leaf_tokens = np.array([grammar.token_ids[s] for s in grammar.symbols[terminal_base:]],
                         np.int32)[symbols - terminal_base]
  lengths = np.bincount(sentence, minlength=n)
  offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
  position = np.arange(len(symbols)) - offsets[sentence] + 1  # +1: after BOS
  tokens = np.full((n, grammar.seq_len), grammar.pad_id, np.int32)
  tokens[:, 0] = grammar.bos_id
  tokens[sentence, position] = leaf_tokens
  ancestor_symbols = -np.ones((n, grammar.seq_len, grammar.depths), np.int32)
  ancestor_nodes = -np.ones((n, grammar.seq_len, grammar.depths), np.int64)
  ancestor_symbols[sentence, position] = np.stack(anc_sym, -1)
  ancestor_nodes[sentence, position] = np.stack(anc_node, -1)
  return Sentences(tokens, lengths, ancestor_symbols, ancestor_nodes)


def right_boundaries(sentences: Sentences, depth: int) -> np.ndarray:
  """[n, seq_len] bool: the terminal is the last of its depth-``depth`` ancestor's span."""
  nodes = sentences.ancestor_nodes[..., depth]
  following = np.concatenate([nodes[:, 1:], -np.ones_like(nodes[:, :1])], axis=1)
  return (nodes >= 0) & (nodes != following)
