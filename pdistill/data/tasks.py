"""Turns ``config.data`` into what the training loop needs: batches, eval set, output sizes.

Batches are a pure function of (seed, step).  Every task gives the loop one kind of input:
``Task.chunk_input(seeds, start, length)`` is a pytree of numpy arrays whose leaves lead with
a member axis (one entry per seed), and ``Task.batches(input)``, traced inside the jitted
chunk, turns one member's input into the batches of its ``length`` steps, stacked on a leading
step axis.  Sparse parity's input is the seed and the step numbers: its batches are drawn on
device inside the chunk (``parity.train_batch``), where XLA fuses them with the steps.  PCFG
and real text make their batches on the host with numpy (``streams.host_rng(seed, step)``):
the input is the batches themselves, made while the device runs the previous chunk.  Input
leaves of shape [steps, batch, ...] (after the member axis) are split over the devices along
the batch axis; smaller ones are replicated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Callable, Sequence

import jax
import numpy as np

from pdistill.config import ConfigError, references
from pdistill.config.checks import choice, positive, require
from pdistill.data import custom, mlm_masking, parity, pcfg, streams, text
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
  chunk_input_fn: Callable  # (seeds int32[M], start, length) -> numpy pytree, leaves [M, ...]
  batches: Callable  # one member's chunk input -> batches [length, ...]; traceable
  hidden_keys: bool = False  # ids >= vocab_size are masked-LM positions hidden as attention keys
  on_host: bool = False  # chunk inputs are the batches, made on the host (data/host_pool.py)

  def chunk_input(self, seeds: Sequence[int], start: int, length: int) -> dict:
    """What the chunk of steps start..start+length-1 needs, for each of ``seeds``."""
    return self.chunk_input_fn(np.asarray(seeds, np.int32), start, length)

  def batch(self, seed: int, step: int) -> dict:
    """The training batch of ``step`` of the run with ``seed``."""
    one = jax.tree.map(lambda a: a[0], self.chunk_input([seed], step, 1))
    return jax.tree.map(lambda a: np.asarray(a[0]), self.batches(one))


def build(data, batch_size: int) -> Task:
  """The ``Task`` of a ``data`` config section (its ``task`` one of ``TASKS``)."""
  if data.task not in TASKS:
    raise ValueError(f'data.task must be one of {tuple(TASKS)}, got {data.task!r}')
  return TASKS[data.task].build(data, batch_size)


def check(config) -> tuple[int | None, custom.Data | None]:
  """Checks ``config.data`` (ConfigError naming the field): the task's sequence length (None
  for real-valued inputs, 0 for a custom task's tokens of any length) and, for a custom task,
  its ``Data`` (its factory called once)."""
  choice(config, 'data.task', TASKS)
  positive(config, 'data.eval_size')
  kind = TASKS[config.data.task]
  spec = kind.check(config)
  return kind.sequence_length(config.data, spec), spec


def _seeds_and_steps(seeds, start, length: int) -> dict:
  """The chunk input of a task whose batches are drawn on device: seeds and step numbers."""
  steps = np.arange(start, start + length, dtype=np.int32)
  return {'seed': seeds, 'step': np.broadcast_to(steps, (len(seeds), length)).copy()}


def _parity(data, batch_size: int) -> Task:
  task = parity.make_task(data.n, data.k, data.num_labels, data.support, data.support_seed)
  as_tokens = data.get('as_tokens', False)

  def encode(batch):
    if as_tokens:
      batch = {**batch, 'inputs': parity.to_tokens(batch['inputs'])}
    return batch

  def batches(one):
    key = streams.run_key(one['seed'], streams.DATA)
    return jax.vmap(lambda s: encode(parity.train_batch(task, key, s, batch_size)))(one['step'])

  eval_set = jax.tree.map(np.asarray,
                          encode(parity.eval_set(task, data.eval_seed, data.eval_size)))
  return Task(name='sparse_parity', num_outputs=data.num_labels,
              vocab_size=2 if as_tokens else None, readout='last', pad_id=None,
              init_inputs=eval_set['inputs'][:1], eval_set=eval_set,
              chunk_input_fn=_seeds_and_steps, batches=batches)


def _host_batches(batch: Callable[[int, int], dict]) -> dict:
  """The chunk input of a task whose batches are made on the host by ``batch(seed, step)``:
  the batches themselves."""

  def chunk_input_fn(seeds, start, length: int):
    rows = [batch(int(seed), s) for seed in seeds for s in range(start, start + length)]
    return jax.tree.map(lambda *xs: np.stack(xs).reshape((len(seeds), length) + np.shape(xs[0])),
                        *rows)

  return dict(chunk_input_fn=chunk_input_fn, batches=lambda batches: batches, on_host=True)


def _rng_batches(make: Callable[[np.random.Generator], dict]) -> dict:
  """``_host_batches`` of a task whose batch of a step is ``make(host_rng(seed, step))``."""
  return _host_batches(lambda seed, step: make(streams.host_rng(seed, step)))


def _hidden_keys(data) -> bool:
  return data.task in ('pcfg_mlm', 'text_mlm') and data.get('masked_keys') == 'hidden'


def _pcfg(data, batch_size: int) -> Task:
  grammar = pcfg.load(data.grammar)
  terminals = [grammar.token_ids[t] for t in ('a', 'b', 'c')]
  # 8 embeddings as in the reference (7 ids: a, b, c, BOS, EOS, PAD, MASK; one unused)
  vocab = 8
  hidden = _hidden_keys(data)

  def make(rng: np.random.Generator, n: int) -> dict:
    sentences = pcfg.sample(grammar, rng, n)
    tokens = sentences.tokens
    if data.task == 'pcfg_mlm':
      maskable = sentences.ancestor_nodes[..., 0] >= 0  # the terminals
      return mlm_masking.mask_tokens(tokens, rng, mask_rate=data.mask_rate,
                                     mask_id=grammar.mask_id, random_ids=terminals,
                                     maskable=maskable, hidden_vocab=vocab if hidden else None)
    targets = pcfg.right_boundaries(sentences, data.boundary_depth)
    return {'inputs': tokens[:, :-1], 'labels': tokens[:, 1:],
            'weights': targets[:, 1:].astype(np.float32)}

  eval_set = make(streams.eval_rng(data.eval_seed), data.eval_size)
  return Task(name=data.task, num_outputs=vocab, vocab_size=vocab, readout='all',
              pad_id=grammar.pad_id, init_inputs=eval_set['inputs'][:1], eval_set=eval_set,
              hidden_keys=hidden, **_rng_batches(lambda rng: make(rng, batch_size)))


def _text_mlm(data, batch_size: int) -> Task:
  corpus = text.Corpus(data)
  hidden = _hidden_keys(data)

  def make(rng: np.random.Generator, n: int, eval_split: bool = False) -> dict:
    tokens = corpus.windows(rng, n, eval_split)
    return mlm_masking.mask_tokens(tokens, rng, mask_rate=data.mask_rate,
                                   mask_id=text.MASK, random_ids=np.arange(256),
                                   maskable=tokens < 256,
                                   hidden_vocab=text.VOCAB if hidden else None)

  eval_set = make(streams.eval_rng(data.eval_seed), data.eval_size, eval_split=True)
  return Task(name='text_mlm', num_outputs=text.VOCAB, vocab_size=text.VOCAB,
              readout='all', pad_id=text.PAD, init_inputs=eval_set['inputs'][:1],
              eval_set=eval_set, hidden_keys=hidden,
              **_rng_batches(lambda rng: make(rng, batch_size)))


_reused: dict | None = None  # custom Data by (factory, kwargs) while ``reusing_custom_data``


@contextlib.contextmanager
def reusing_custom_data():
  """Within it, a custom task's factory is called once per (factory, kwargs): validation and
  every run of a pipeline or sweep share the ``Data`` it returned."""
  global _reused
  outer, _reused = _reused, ({} if _reused is None else _reused)
  try:
    yield
  finally:
    _reused = outer


def custom_data(data) -> custom.Data:
  """The ``pdistill.Data`` that ``data.factory(**data.kwargs)`` returns (a user's task)."""
  kwargs = data.get('kwargs') or {}
  kwargs = kwargs.to_dict() if hasattr(kwargs, 'to_dict') else dict(kwargs)
  key = (data.factory, json.dumps(kwargs, sort_keys=True, default=repr))
  if _reused is not None and key in _reused:
    return _reused[key]
  factory = references.resolve(data.factory, 'data.factory')
  spec = custom.check(factory(**kwargs), f'data.factory {data.factory}')
  if _reused is not None:
    _reused[key] = spec
  return spec


def _custom(data, batch_size: int) -> Task:
  spec = custom_data(data)
  if spec.on_device:
    def batches(one):
      return jax.vmap(lambda step: spec.batch(one['seed'], step))(one['step'])

    inputs = dict(chunk_input_fn=_seeds_and_steps, batches=batches)
  else:
    first = spec.sample()

    def batch(seed: int, step: int) -> dict:
      made = spec.batch(seed, step)
      problem = custom.shape_change_error(first, made, seed, step)
      if problem:
        raise ConfigError('data.factory', f'{data.factory}: {problem}')
      return made

    inputs = _host_batches(batch)
  eval_set = jax.tree.map(np.asarray, dict(spec.eval_set))
  return Task(name='custom', num_outputs=spec.num_outputs, vocab_size=spec.vocab_size,
              readout='all' if np.ndim(eval_set['labels']) > 1 else 'last', pad_id=None,
              init_inputs=eval_set['inputs'][:1], eval_set=eval_set, **inputs)


# --- the task vocabulary: name -> build, check, sequence length ------------------------------

def _check_parity(config) -> None:
  data = config.data
  for field in ('n', 'k', 'num_labels'):
    positive(config, f'data.{field}')
  labels = data.num_labels
  require(labels >= 2 and labels & (labels - 1) == 0, 'data.num_labels',
          f'must be a power of two >= 2 (2**depth leaves of the label tree), got {labels}')
  choice(config, 'data.support', ('first', 'random'))
  needed = (labels - 1) * data.k
  require(needed <= data.n, 'data.k',
          f'{labels - 1} support sets of k={data.k} need {needed} coordinates but n={data.n}')


def _check_masked_keys(config) -> None:
  if 'masked_keys' in config.data:
    choice(config, 'data.masked_keys', mlm_masking.MASKED_KEYS)


def _check_mask_rate(config) -> None:
  rate = config.data.mask_rate
  require(0 < rate < 1, 'data.mask_rate', f'must be in (0, 1), got {rate!r}')


def _check_pcfg(config) -> None:
  data = config.data
  choice(config, 'data.grammar', pcfg.GRAMMARS)
  if data.task == 'pcfg_mlm':
    _check_masked_keys(config)
    _check_mask_rate(config)
  else:
    depths = pcfg.load(data.grammar).depths
    require(data.boundary_depth in range(depths), 'data.boundary_depth',
            f'must be 0..{depths - 1} for {data.grammar} ({depths - 1} = every token), '
            f'got {data.boundary_depth!r}')


def _check_text(config) -> None:
  data = config.data
  _check_masked_keys(config)
  choice(config, 'data.source', text.SOURCES)
  require(isinstance(data.seq_len, int) and data.seq_len >= 8, 'data.seq_len',
          f'must be an integer >= 8 (BOS + bytes + EOS), got {data.seq_len!r}')
  _check_mask_rate(config)
  require(isinstance(data.holdout_every, int) and data.holdout_every >= 2,
          'data.holdout_every', f'must be an integer >= 2, got {data.holdout_every!r}')
  if data.source == 'tfds':
    require(bool(data.tfds_name), 'data.tfds_name',
            'is empty: name a prepared tfds dataset, e.g. wikipedia/20230601.en or pg19')
  if data.source == 'files':
    require(bool(data.files), 'data.files',
            'is empty: give comma-separated glob patterns of text files')


def _check_custom(config) -> custom.Data:
  data = config.data
  require(bool(data.get('factory')), 'data.factory',
          'is empty: name a function returning pdistill.Data, "pkg.mod:make_data" or '
          '"/path/script.py:make_data"')
  try:
    spec = custom_data(data)
  except (TypeError, ValueError) as e:
    raise ConfigError('data.factory', str(e)) from None
  size = len(spec.eval_set['inputs'])
  require(data.eval_size == size, 'data.eval_size',
          f'is {data.eval_size} but the eval set of {data.factory} has {size} examples')
  batch = spec.batch_size()
  for run in ('teacher', 'student'):
    if run in config and (config.method == 'pipeline' or
                          (run == 'teacher') == (config.method == 'teacher')):
      require(config[run].batch_size == batch, f'{run}.batch_size',
              f'is {config[run].batch_size} but {data.factory} makes batches of {batch}')
  return spec


def _pcfg_length(data, spec) -> int:
  seq = pcfg.load(data.grammar).seq_len
  return seq - 1 if data.task == 'pcfg_next_token' else seq


@dataclasses.dataclass(frozen=True)
class TaskKind:
  build: Callable  # (data section, batch size) -> Task
  check: Callable  # (config) -> custom Data or None; ConfigError naming the field
  sequence_length: Callable  # (data section, custom Data or None) -> int or None
  one_label_per_example: bool = False  # eval accuracy is over eval_size labels exactly


TASKS = {
    'sparse_parity': TaskKind(_parity, _check_parity,
                              lambda d, _: d.n if d.get('as_tokens', False) else None, True),
    'pcfg_mlm': TaskKind(_pcfg, _check_pcfg, _pcfg_length),
    'pcfg_next_token': TaskKind(_pcfg, _check_pcfg, _pcfg_length),
    'text_mlm': TaskKind(_text_mlm, _check_text, lambda d, _: d.seq_len),
    'custom': TaskKind(_custom, _check_custom,
                       lambda d, spec: None if spec.vocab_size is None else 0),
}


def eval_labels(data: dict) -> int | None:
  """How many labels a recorded run's eval accuracy is measured on (the ``data`` section of
  its config.json), where that is known exactly; None otherwise (sequences of any length)."""
  kind = TASKS.get(data.get('task'))
  return data.get('eval_size') if kind is not None and kind.one_label_per_example else None
