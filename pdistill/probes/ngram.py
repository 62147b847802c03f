"""n-gram metrics of a PCFG masked LM: how much its prediction at p rests on the nearby tokens.

At positions p = s, 2s, ... (inside the sentence; stride s = 30 on cfg3, shorter on grammars of
shorter sentences: ``position_stride``), with n neighbours = the n/2 terminals on each side of
p:

  M_robust(n) = TV(pred at p with only p masked, pred at p with p and its n neighbours masked)
  M_close(n)  = TV(pred at p with only p masked, pred at p with only the n neighbours visible:
                every other terminal, and p, masked; BOS stays)

TV is the total-variation distance, 0.5 * L1, between the model's softmax outputs over its
whole vocabulary (the reference's code reports the L1 distance, which is 2x these values).
A model that predicts from local n-grams has small M_close; one that uses long-range
structure has large M_close and small M_robust.  Reported: the median over all (sentence,
position) pairs.  A run trained with ``data.masked_keys=hidden`` sees its masked positions
hidden as attention keys here too.

  python -m pdistill.probes.ngram runs/pcfg/teacher [more runs] [--windows 2 4 8 16]
"""

from __future__ import annotations

import argparse
import sys

import jax
import numpy as np

from pdistill import saved_run
from pdistill.data import mlm_masking, pcfg
from pdistill.storage import trajectory

POSITION_STRIDE = 30  # the reference's, on cfg3 sentences of 161-432 terminals


def position_stride(grammar: pcfg.Grammar) -> int:
  """30 on cfg3; about a quarter of the mean sentence on grammars of shorter sentences."""
  return int(min(POSITION_STRIDE, max(4, grammar.length_stats['mean'] // 4)))


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  return 0.5 * np.abs(p - q).sum(-1)


def variants(tokens: np.ndarray, length: int, p: int, n: int, mask_id: int,
             hidden_vocab: int | None = None):
  """The three inputs for (sentence, p, n): only p masked, p+window masked, only window visible.

  ``hidden_vocab``: the masked positions are also hidden attention keys (masked_keys=hidden).
  """
  half = n // 2
  terminal = np.zeros_like(tokens, bool)
  terminal[1:length + 1] = True
  window = np.zeros_like(tokens, bool)
  window[max(p - half, 1):min(p + half, length) + 1] = True
  window[p] = False
  only_p = tokens.copy()
  only_p[p] = mask_id
  also_window = only_p.copy()
  also_window[window] = mask_id
  only_window_visible = tokens.copy()
  only_window_visible[terminal & ~window] = mask_id
  out = (only_p, also_window, only_window_visible)
  if hidden_vocab is not None:
    out = tuple(mlm_masking.hide(v, v != tokens, hidden_vocab) for v in out)
  return out


def metrics(predict, sentences: pcfg.Sentences, windows, mask_id: int, batch: int = 64,
            stride: int = POSITION_STRIDE, hidden_vocab: int | None = None):
  """{n: (median M_robust, median M_close)}; ``predict(tokens [B, T]) -> probs [B, T, V]``."""
  rows, index = [], []
  for i, (tokens, length) in enumerate(zip(sentences.tokens, sentences.lengths)):
    for p in range(stride, length + 1, stride):
      for n in windows:
        rows.extend(variants(tokens, length, p, n, mask_id, hidden_vocab))
        index.append((n, p))
  rows = np.stack(rows)
  probs = np.concatenate([predict(rows[j:j + batch]) for j in range(0, len(rows), batch)])
  result = {}
  for n in windows:
    robust, close = [], []
    for k, (size, p) in enumerate(index):
      if size != n:
        continue
      only_p, also_window, only_window = probs[3 * k:3 * k + 3, p]
      robust.append(total_variation(only_p, also_window))
      close.append(total_variation(only_p, only_window))
    result[n] = (float(np.median(robust)), float(np.median(close)))
  return result


def _probe(model, data, num_sentences: int, seed: int):
  """``of(params, windows)``: the metrics of ``model`` with ``params``, on fixed sentences."""
  grammar = pcfg.load(data.grammar)
  sentences = pcfg.sample(grammar, np.random.default_rng([seed, 0x6AA]), num_sentences)
  hidden = model.vocab_size if model.hidden_keys else None
  apply = jax.jit(lambda params, t: jax.nn.softmax(model.apply({'params': params}, t)))

  def of(params, windows):
    return metrics(lambda t: np.asarray(apply(params, t)), sentences, windows, grammar.mask_id,
                   stride=position_stride(grammar), hidden_vocab=hidden)

  return of


def run_metrics(workdir: str, windows=(2, 4, 8, 16), num_sentences: int = 32, seed: int = 0):
  model, params, data = saved_run.load_latest(workdir, ('pcfg_mlm',))
  return _probe(model, data, num_sentences, seed)(params, windows)


def trajectory_metrics(workdir: str, windows=(2,), num_sentences: int = 32, seed: int = 0):
  """[(step, {n: (M_robust, M_close)})] at every saved checkpoint of a teacher's trajectory."""
  model, task, data = saved_run.frozen_model(workdir, ('pcfg_mlm',))
  abstract = saved_run.abstract_params(model, task)
  of = _probe(model, data, num_sentences, seed)
  return [(step, of(trajectory.load_params(workdir, step, abstract), windows))
          for step in trajectory.saved_steps(workdir)]


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('workdirs', nargs='+')
  parser.add_argument('--windows', type=int, nargs='+', default=[2, 4, 8, 16])
  parser.add_argument('--sentences', type=int, default=32)
  args = parser.parse_args(argv)
  print('| run | ' + ' | '.join(f'n={n} robust / close' for n in args.windows) + ' |')
  print('|---|' + '---|' * len(args.windows))
  for w in args.workdirs:
    m = run_metrics(w, args.windows, args.sentences)
    print(f'| {w} | ' + ' | '.join(f'{m[n][0]:.3f} / {m[n][1]:.3f}' for n in args.windows) +
          ' |', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
