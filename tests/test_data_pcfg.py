"""The PCFG sampler, MLM masking and next-token targets against the grammars' exact statistics."""

import json
import os

import ml_collections
import numpy as np
import pytest

from pdistill.data import build_grammar, mlm_masking, pcfg, tasks

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), 'shared', 'pcfg')


@pytest.fixture(scope='module')
def cfg3b_sample():
  return pcfg.sample(pcfg.load('cfg3b'), np.random.default_rng(0), 2000)


@pytest.fixture(scope='module')
def pdcfg5_sample():
  return pcfg.sample(pcfg.load('pdcfg5'), np.random.default_rng(0), 2000)


@pytest.mark.parametrize('name', ['cfg3b', 'pdcfg5'])
def test_mean_length_within_three_standard_errors(name, request):
  sample = request.getfixturevalue(f'{name}_sample')
  stats = pcfg.load(name).length_stats
  se = stats['std'] / np.sqrt(len(sample.lengths))
  assert abs(sample.lengths.mean() - stats['mean']) < 3 * se
  assert stats['min'] <= sample.lengths.min() and sample.lengths.max() <= stats['max']


@pytest.mark.parametrize('name', pcfg.GRAMMARS)
def test_stored_length_stats_are_the_exact_dynamic_programme(name):
  with open(os.path.join(pcfg.GRAMMAR_DIR, f'{name}.json')) as f:
    spec = json.load(f)
  assert build_grammar.length_stats(spec) == spec['sentence_length_stats']


def test_pdcfg5_is_rebuilt_by_its_command():
  with open(os.path.join(pcfg.GRAMMAR_DIR, 'pdcfg5.json')) as f:
    shipped = json.load(f)
  assert build_grammar.build('pdcfg5', levels=5, seed=3) == shipped
  g = pcfg.load('pdcfg5')
  assert g.depths == 5 and g.seq_len == 55 and g.token_ids == pcfg.load('cfg3b').token_ids


def test_length_stats_of_a_grammar_worked_by_hand():
  # s -> A A | A ; A -> a | a a  (both 1/2): one A gives 1 or 2, two give 2, 3, 4 w.p. 1/4,1/2,1/4.
  spec = {'start_symbol': 's', 'nonterminal_levels': [['s'], ['A'], ['a']],
          'rules': [{'lhs': 's', 'rhs': ['A', 'A'], 'prob': 0.5},
                    {'lhs': 's', 'rhs': ['A'], 'prob': 0.5},
                    {'lhs': 'A', 'rhs': ['a'], 'prob': 0.5},
                    {'lhs': 'A', 'rhs': ['a', 'a'], 'prob': 0.5}]}
  # P(1..4) = 1/4, 1/4 + 1/8, 1/4, 1/8
  stats = build_grammar.length_stats(spec)
  assert (stats['min'], stats['max'], stats['mean']) == (1, 4, 2.25)
  assert stats['quantiles_percent']['50'] == 2 and stats['quantiles_percent']['75'] == 3


@pytest.mark.parametrize('name', pcfg.GRAMMARS)
def test_every_grammar_samples_within_its_length_range(name):
  g = pcfg.load(name)
  s = pcfg.sample(g, np.random.default_rng(1), 300)
  assert g.length_stats['min'] <= s.lengths.min() and s.lengths.max() <= g.length_stats['max']
  assert abs(s.lengths.mean() - g.length_stats['mean']) < 4 * g.length_stats['std'] / np.sqrt(300)


def test_packaged_grammars_equal_the_shared_ones():
  if not os.path.isdir(SHARED):
    pytest.skip('no ../shared/pcfg beside this checkout')
  for name in pcfg.REFERENCE_GRAMMARS:
    with open(os.path.join(SHARED, f'{name}.json')) as a, open(
        os.path.join(pcfg.GRAMMAR_DIR, f'{name}.json')) as b:
      assert json.load(a) == json.load(b)


def test_sequences_are_bos_terminals_then_pad(cfg3b_sample):
  g = pcfg.load('cfg3b')
  t = cfg3b_sample.tokens
  assert (t[:, 0] == g.bos_id).all()
  positions = np.arange(t.shape[1])[None]
  real = (positions >= 1) & (positions <= cfg3b_sample.lengths[:, None])
  assert np.isin(t[real], [0, 1, 2]).all() and (t[~real & (positions > 0)] == g.pad_id).all()


@pytest.mark.parametrize('name', ['cfg3b', 'pdcfg5'])
def test_ancestors_are_consistent_with_the_rules(name, request):
  sample = request.getfixturevalue(f'{name}_sample')
  g = pcfg.load(name)
  sym, nodes = sample.ancestor_symbols, sample.ancestor_nodes
  real = nodes[..., 0] >= 0
  assert (sym[..., 0][real] == 0).all()  # the root s
  depth_of = np.array(g.depth_of)
  for d in range(g.depths):
    assert (depth_of[sym[..., d][real]] == d).all()
  # The pre-terminal emits the token with its name.
  names = np.array(g.symbols)[sym[..., g.depths - 1][real]]
  assert (np.vectorize(g.token_ids.get)(names) == sample.tokens[real]).all()
  # Same node at depth d implies same node at every shallower depth (spans nest).
  for d in range(1, g.depths):
    a, b = nodes[..., d][real], nodes[..., d - 1][real]
    parents = {}
    for child, parent in zip(a.tolist(), b.tolist()):
      assert parents.setdefault(child, parent) == parent
  # Every node's children, in order, are the right-hand side of one of its symbol's rules.
  with open(os.path.join(pcfg.GRAMMAR_DIR, f'{name}.json')) as f:
    spec = json.load(f)
  rules = {(r['lhs'], tuple(r['rhs'])) for r in spec['rules']}
  for i in range(50):
    row = real[i]
    for d in range(g.depths - 1):
      spans = {}
      for node, symbol, child_node, child in zip(nodes[i, row, d], sym[i, row, d],
                                                 nodes[i, row, d + 1], sym[i, row, d + 1]):
        kids = spans.setdefault(node, [g.symbols[symbol], []])[1]
        if not kids or kids[-1][0] != child_node:
          kids.append((child_node, g.symbols[child]))
      for symbol, kids in spans.values():
        assert (symbol, tuple(k for _, k in kids)) in rules


def test_right_boundary_counts_match_the_grammar_readme(cfg3b_sample):
  # Mean number of depth-D nodes per cfg3b sentence, ../shared/pcfg/README.md.
  expected = [1, 2.0, 5.25, 14.0, 36.8, 110.4, 294.3]
  for depth, value in enumerate(expected):
    got = pcfg.right_boundaries(cfg3b_sample, depth).sum(1).mean()
    assert abs(got - value) < 0.03 * value + 0.05, (depth, got, value)


def test_sampler_is_seeded():
  g = pcfg.load('cfg3h')
  a = pcfg.sample(g, np.random.default_rng([3, 7]), 5).tokens
  b = pcfg.sample(g, np.random.default_rng([3, 7]), 5).tokens
  c = pcfg.sample(g, np.random.default_rng([3, 8]), 5).tokens
  assert (a == b).all() and not (a == c).all()


def test_masking_rates():
  g = pcfg.load('cfg3b')
  s = pcfg.sample(g, np.random.default_rng(0), 400)
  maskable = s.ancestor_nodes[..., 0] >= 0
  out = mlm_masking.mask_tokens(s.tokens, np.random.default_rng(1), mask_rate=0.3,
                                mask_id=g.mask_id, random_ids=[0, 1, 2], maskable=maskable)
  chosen = out['weights'] > 0
  assert not chosen[~maskable].any()  # never BOS or PAD
  assert (out['inputs'][~chosen] == s.tokens[~chosen]).all()
  assert (out['labels'] == s.tokens).all()
  n = chosen.sum()
  assert abs(n / maskable.sum() - 0.3) < 0.01
  masked = (out['inputs'][chosen] == g.mask_id).mean()
  changed = ((out['inputs'][chosen] != g.mask_id) &
             (out['inputs'][chosen] != s.tokens[chosen])).mean()
  assert abs(masked - 0.8) < 0.01
  # 10% get a uniform random terminal, which differs from the original 2/3 of the time.
  assert abs(changed - 0.1 * 2 / 3) < 0.006
  assert np.isin(out['inputs'][chosen & (out['inputs'] != g.mask_id)], [0, 1, 2]).all()


def pcfg_data(task, **extra):
  return ml_collections.ConfigDict(dict(task=task, grammar='cfg3b', mask_rate=0.3,
                                        boundary_depth=6, eval_size=4, eval_seed=0, **extra))


@pytest.mark.parametrize('depth', [6, 3])
def test_next_token_targets(depth):
  data = pcfg_data('pcfg_next_token')
  data.boundary_depth = depth
  task = tasks.build(data, batch_size=3)
  batch = task.batch(5, 11)
  s = pcfg.sample(pcfg.load('cfg3b'), np.random.default_rng([5, 11]), 3)
  assert (batch['inputs'] == s.tokens[:, :-1]).all() and (batch['labels'] == s.tokens[:, 1:]).all()
  weights = batch['weights'] > 0
  assert np.isin(batch['labels'][weights], [0, 1, 2]).all()
  if depth == 6:
    assert (weights.sum(1) == s.lengths).all()  # every terminal is a target
  else:
    assert (weights == pcfg.right_boundaries(s, depth)[:, 1:]).all()
    assert (weights.sum(1) < s.lengths).all()


def test_host_batches_are_a_pure_function_of_seed_and_step():
  task = tasks.build(pcfg_data('pcfg_mlm'), batch_size=2)
  one, again, other = task.batch(0, 5), task.batch(0, 5), task.batch(0, 6)
  assert all((one[k] == again[k]).all() for k in one)
  assert not (one['inputs'] == other['inputs']).all()


def test_hidden_masked_keys_mark_exactly_the_chosen_positions():
  visible = tasks.build(pcfg_data('pcfg_mlm', masked_keys='visible'), batch_size=4)
  hidden = tasks.build(pcfg_data('pcfg_mlm', masked_keys='hidden'), batch_size=4)
  assert hidden.hidden_keys and not visible.hidden_keys
  a, b = visible.batch(2, 9), hidden.batch(2, 9)
  chosen = a['weights'] > 0
  # The same draw; chosen positions carry their (masked) id shifted by the vocabulary.
  assert (b['inputs'] == np.where(chosen, a['inputs'] + hidden.vocab_size, a['inputs'])).all()
  assert (b['labels'] == a['labels']).all() and (b['weights'] == a['weights']).all()
