"""Linear probes for the PCFG non-terminals in a frozen model's final-layer states.

For every terminal of held-out sentences, the feature is the model's last block output at
that position (input unmasked), and the label is the token's ancestor non-terminal at depth
d (1..5 in cfg3, 1..3 in pdcfg5: depth 0 is always the root and the deepest level is the
token itself).  One multinomial logistic regression per depth is fitted on
``train_sentences`` sentences and scored on ``test_sentences`` others; chance is about 1/3
(three symbols per depth).

  python -m pdistill.probes.nonterminal runs/pcfg/teacher runs/pcfg/ce/seed_0 ...
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from pdistill import saved_run
from pdistill.data import pcfg
from pdistill.storage import run_config

SENTENCE_SALT = 0x9B0BE  # the probe's sentences: a stream no training run draws from


def probed_depths(grammar) -> range:
  """Every depth between the root (one symbol) and the pre-terminals (the tokens): 1..5 in cfg3."""
  return range(1, grammar.depths - 1)


def fit_linear_probe(features, labels, num_classes: int, steps: int = 300, lr: float = 0.05):
  """Full-batch Adam on softmax regression (features standardised); returns a predict function."""
  mean, std = features.mean(0), features.std(0) + 1e-6
  x = jnp.asarray((features - mean) / std)
  y = jnp.asarray(labels)
  params = {'w': jnp.zeros((x.shape[1], num_classes)), 'b': jnp.zeros(num_classes)}
  tx = optax.adam(lr)

  def loss(p):
    logits = x @ p['w'] + p['b']
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

  @jax.jit
  def train(p):
    def step(carry, _):
      p, s = carry
      g = jax.grad(loss)(p)
      u, s = tx.update(g, s, p)
      return (optax.apply_updates(p, u), s), None
    return jax.lax.scan(step, (p, tx.init(p)), None, length=steps)[0][0]

  params = train(params)
  return lambda f: np.asarray(jnp.argmax(((f - mean) / std) @ params['w'] + params['b'], -1))


def final_states(workdir: str):
  """(apply(tokens) -> [B, T, W] final-layer states, data config) of a PCFG run's latest params."""
  model, params, data = saved_run.load_latest(workdir, ('pcfg_mlm', 'pcfg_next_token'))
  apply = jax.jit(lambda t: model.apply({'params': params}, t, return_hidden=True)[1][-1])
  return apply, data


def majority_baseline(grammar_name: str, test_sentences: int = 128, seed: int = 0):
  """{depth: accuracy of always answering the most frequent symbol} on the probe's test split."""
  grammar = pcfg.load(grammar_name)
  sentences = pcfg.sample(grammar, np.random.default_rng([seed, SENTENCE_SALT]),
                          256 + test_sentences)
  test = sentences.ancestor_symbols[256:]
  result = {}
  for depth in probed_depths(grammar):
    symbols = test[..., depth][test[..., depth] >= 0]
    result[depth] = float(np.bincount(symbols).max() / len(symbols))
  return result


def probe(workdir: str, train_sentences: int = 256, test_sentences: int = 128, seed: int = 0):
  """{depth: held-out probe accuracy} for the run in ``workdir``."""
  apply, data = final_states(workdir)
  grammar = pcfg.load(data.grammar)
  sentences = pcfg.sample(grammar, np.random.default_rng([seed, SENTENCE_SALT]),
                          train_sentences + test_sentences)
  tokens = sentences.tokens
  if data.task == 'pcfg_next_token':
    tokens = tokens[:, :-1]  # the causal model's input length
  states = np.concatenate([np.asarray(apply(tokens[i:i + 32]))
                           for i in range(0, len(tokens), 32)])
  positions = sentences.ancestor_nodes[:, :states.shape[1], 0] >= 0
  split = np.zeros(len(tokens), bool)
  split[:train_sentences] = True
  result = {}
  for depth in probed_depths(grammar):
    symbols = sentences.ancestor_symbols[:, :states.shape[1], depth]
    first = grammar.depth_of.index(depth)
    labels = symbols - first  # 0..2 within the depth's symbols
    num_classes = grammar.depth_of.count(depth)
    train = positions & split[:, None]
    test = positions & ~split[:, None]
    predict = fit_linear_probe(states[train], labels[train], num_classes)
    result[depth] = float(np.mean(predict(states[test]) == labels[test]))
  return result


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('workdirs', nargs='+')
  args = parser.parse_args(argv)
  grammar = run_config.read(args.workdirs[0])['data']['grammar']
  depths = probed_depths(pcfg.load(grammar))
  print('| run | ' + ' | '.join(f'depth {d}' for d in depths) + ' |')
  print('|---|' + '---:|' * len(depths))
  base = majority_baseline(grammar)
  print('| majority class | ' + ' | '.join(f'{base[d]:.3f}' for d in depths) + ' |')
  for w in args.workdirs:
    acc = probe(w)
    print(f'| {w} | ' + ' | '.join(f'{acc[d]:.3f}' for d in depths) + ' |', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
