"""Turns ``config.data`` into what the training loop needs: batches, eval set, output sizes.

Batches are a pure function of (seed, step), drawn either on device inside the jitted chunk
(sparse parity: ``device_batch(data_key, step)``) or on the host with numpy
(PCFG and real text: ``host_batch(seed, step)``, seeded by ``np.random.default_rng([seed, step])``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from pdistill import mlm_masking, parity_data, pcfg, text_data

TASKS = ('sparse_parity', 'pcfg_mlm', 'pcfg_next_token', 'text_mlm')
# data fields that set how a run is evaluated, not what task it learns
EVAL_FIELDS = ('eval_size', 'eval_seed')


@dataclasses.dataclass
class Task:
  name: str
  num_outputs: int  # classes, or vocabulary size of a language-model head
  vocab_size: int | None  # input token vocabulary; None for real-valued inputs
  readout: str  # 'last' position or 'all' positions
  pad_id: int | None
  init_inputs: np.ndarray  # one example batch for model.init
  eval_set: dict
  device_batch: Callable | None = None  # (data_key, step) -> batch; traced inside jit
  host_batch: Callable | None = None  # (seed, step) -> numpy batch


def build(data, batch_size: int) -> Task:
  if data.task == 'sparse_parity':
    return _parity(data, batch_size)
  if data.task in ('pcfg_mlm', 'pcfg_next_token'):
    return _pcfg(data, batch_size)
  if data.task == 'text_mlm':
    return _text_mlm(data, batch_size)
  raise ValueError(f'data.task must be one of {TASKS}, got {data.task!r}')


def _parity(data, batch_size: int) -> Task:
  task = parity_data.make_task(data.n, data.k, data.num_labels, data.support, data.support_seed)
  as_tokens = data.get('as_tokens', False)

  def encode(batch):
    if as_tokens:  # the reference's conversion for transformers: +1 -> 0, -1 -> 1
      batch = {**batch, 'inputs': ((1 - batch['inputs']) // 2).astype(jnp.int32)}
    return batch

  def device_batch(data_key, step):
    return encode(parity_data.train_batch(task, data_key, step, batch_size))

  eval_set = jax.tree.map(np.asarray,
                          encode(parity_data.eval_set(task, data.eval_seed, data.eval_size)))
  return Task(name='sparse_parity', num_outputs=data.num_labels,
              vocab_size=2 if as_tokens else None, readout='last', pad_id=None,
              init_inputs=eval_set['inputs'][:1], eval_set=eval_set, device_batch=device_batch)


def _pcfg(data, batch_size: int) -> Task:
  grammar = pcfg.load(data.grammar)
  terminals = [grammar.token_ids[t] for t in ('a', 'b', 'c')]

  def make(rng: np.random.Generator, n: int) -> dict:
    sentences = pcfg.sample(grammar, rng, n)
    tokens = sentences.tokens
    if data.task == 'pcfg_mlm':
      maskable = sentences.ancestor_nodes[..., 0] >= 0  # the terminals
      return mlm_masking.mask_tokens(tokens, rng, mask_rate=data.mask_rate,
                                     mask_id=grammar.mask_id, random_ids=terminals,
                                     maskable=maskable)
    targets = pcfg.right_boundaries(sentences, data.boundary_depth)
    return {'inputs': tokens[:, :-1], 'labels': tokens[:, 1:],
            'weights': targets[:, 1:].astype(np.float32)}

  def host_batch(seed: int, step: int) -> dict:
    return make(np.random.default_rng([seed, step]), batch_size)

  eval_set = make(np.random.default_rng([data.eval_seed, 0x5EED_E7A1]), data.eval_size)
  # 8 embeddings as in the reference (7 ids: a, b, c, BOS, EOS, PAD, MASK; one unused)
  vocab = 8
  return Task(name=data.task, num_outputs=vocab, vocab_size=vocab, readout='all',
              pad_id=grammar.pad_id, init_inputs=eval_set['inputs'][:1], eval_set=eval_set,
              host_batch=host_batch)


def _text_mlm(data, batch_size: int) -> Task:
  corpus = text_data.Corpus(data)

  def make(rng: np.random.Generator, n: int, eval_split: bool = False) -> dict:
    tokens = corpus.windows(rng, n, eval_split)
    return mlm_masking.mask_tokens(tokens, rng, mask_rate=data.mask_rate,
                                   mask_id=text_data.MASK, random_ids=np.arange(256),
                                   maskable=tokens < 256)

  def host_batch(seed: int, step: int) -> dict:
    return make(np.random.default_rng([seed, step]), batch_size)

  eval_set = make(np.random.default_rng([data.eval_seed, 0x5EED_E7A1]), data.eval_size,
                  eval_split=True)
  return Task(name='text_mlm', num_outputs=text_data.VOCAB, vocab_size=text_data.VOCAB,
              readout='all', pad_id=text_data.PAD, init_inputs=eval_set['inputs'][:1],
              eval_set=eval_set, host_batch=host_batch)


def host_chunk(task: Task, seed: int, start: int, length: int) -> dict:
  """The host batches of steps start..start+length-1, stacked on a leading axis."""
  batches = [task.host_batch(seed, s) for s in range(start, start + length)]
  return jax.tree.map(lambda *xs: np.stack(xs), *batches)
