"""A user's own task: what ``data.task='custom'`` runs, and what ``pdistill.Data`` describes.

A config names a *factory*, a top-level function returning ``Data``, by reference
(``data.factory='pkg.mod:make_data'`` or ``'/path/script.py:make_data'``) with keyword
arguments ``data.kwargs``; ``pdistill.fit`` fills both in from the function it is given.
Batches are a pure function of (seed, step), like every pdistill task, so runs resume exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np


@dataclasses.dataclass
class Data:
  """A task: training batches, a fixed eval set, and the size of the model's output.

  * ``batch(seed, step)``: the training batch of ``step`` of a run with ``seed``, a dict of
    arrays with a leading batch axis: ``inputs``, ``labels`` (int class ids, one per example
    or, for sequence outputs [batch, T, classes], one per position) and optionally
    ``weights`` (float, the shape of ``labels``: what the loss and accuracy count; all of it
    by default).  Pure: the same (seed, step) always gives the same batch.  Made with numpy on
    the host while the device runs the previous chunk, or, with ``on_device=True``, traced
    inside the compiled chunk (then ``seed`` and ``step`` are traced int32 scalars: draw with
    ``jax.random.fold_in(jax.random.key(seed), step)``).
  * ``eval_set``: the same kind of dict, fixed, evaluated at every eval.
  * ``num_outputs``: classes (or vocabulary size) of the model's output.
  * ``vocab_size``: for token inputs to pdistill's own transformers (``model.name`` gpt2 /
    bert); None for anything else.
  """

  batch: Callable[[int, int], dict]
  eval_set: dict
  num_outputs: int
  on_device: bool = False
  vocab_size: int | None = None

  def batch_size(self) -> int:
    """The leading size of a training batch (step 0 of seed 0)."""
    return int(np.shape(self.sample()['inputs'])[0])

  def sample(self) -> dict:
    """The batch of step 0 of seed 0, as numpy arrays."""
    return jax.tree.map(np.asarray, self.batch(0, 0))


def check(data, where: str) -> Data:
  """``data`` if it keeps the data contract; ValueError (TypeError: not Data) naming ``where``
  and the part at fault: integer labels in [0, num_outputs), weights non-negative with a
  positive sum, finite inputs, a training batch shaped like the eval set, and a pure
  ``batch`` (step 0 of seed 0 made twice is the same batch)."""
  if not isinstance(data, Data):
    raise TypeError(f'{where} returned {type(data).__name__}, not pdistill.Data')
  problem = contract_error(data)
  if problem:
    raise ValueError(f'{where}: {problem}')
  return data


def _numpy(tree) -> dict:
  return {k: np.asarray(v) for k, v in dict(tree).items()}


def _part_error(part: dict, name: str, num_outputs: int) -> str | None:
  """What breaks the contract in one batch or eval set ``part`` called ``name``."""
  missing = [k for k in ('inputs', 'labels') if k not in part]
  if missing:
    return f'{name} has no {missing} (it needs inputs and labels, and may have weights)'
  inputs, labels = part['inputs'], part['labels']
  if len(inputs) != len(labels):
    return (f"{name}['labels'] has {len(labels)} rows but {name}['inputs'] {len(inputs)}: one "
            'per example')
  if inputs.dtype.kind == 'f' and not np.isfinite(inputs).all():
    return f"{name}['inputs'] is not finite everywhere (NaN or inf): fix the data"
  if labels.dtype.kind not in 'iu':
    return (f"{name}['labels'] are {labels.dtype}, not integers: give class ids "
            f'(0..{num_outputs - 1}), e.g. labels.astype(np.int32)')
  if labels.size and (labels.min() < 0 or labels.max() >= num_outputs):
    bad = labels.min() if labels.min() < 0 else labels.max()
    return (f"{name}['labels'] holds {int(bad)}, outside [0, num_outputs={num_outputs}): class "
            'ids must be in that range (a negative one would wrap to the last class)')
  if 'weights' in part:
    weights = part['weights']
    if weights.shape != labels.shape:
      return (f"{name}['weights'] has shape {weights.shape}, not that of its labels "
              f'{labels.shape}')
    if not np.isfinite(weights).all() or (weights < 0).any():
      return f"{name}['weights'] must be finite and non-negative"
    if not weights.sum() > 0:
      return (f"{name}['weights'] sum to 0: nothing in it would be trained on or evaluated; "
              'give some example a positive weight')
  return None


def contract_error(data: Data) -> str | None:
  """Why ``data`` breaks the contract of ``check``, or None."""
  if not (isinstance(data.num_outputs, (int, np.integer)) and data.num_outputs >= 2):
    return f'num_outputs must be an integer >= 2, got {data.num_outputs!r}'
  first, again = _numpy(data.sample()), _numpy(data.sample())
  eval_set = _numpy(data.eval_set)
  for part, name in ((first, 'batch(0, 0)'), (eval_set, 'eval_set')):
    problem = _part_error(part, name, int(data.num_outputs))
    if problem:
      return problem
  if set(first) != set(again) or not all(
      np.array_equal(first[k], again[k], equal_nan=first[k].dtype.kind == 'f') for k in first):
    return ('batch(0, 0) made twice gives two different batches: batch(seed, step) must be a '
            'pure function of its arguments (draw with np.random.default_rng((seed, step)) or '
            'jax.random.fold_in(jax.random.key(seed), step), not a global generator), or runs '
            'could not be resumed or repeated')
  for key in ('inputs', 'labels'):
    if first[key].shape[1:] != eval_set[key].shape[1:]:
      return (f"batch(0, 0)['{key}'] has examples of shape {first[key].shape[1:]} but "
              f"eval_set['{key}'] {eval_set[key].shape[1:]}: they must be alike")
  return None


def shape_change_error(first: dict, batch: dict, seed: int, step: int) -> str | None:
  """Why ``batch(seed, step)`` is not shaped like ``batch(0, 0)``, or None."""
  for key, value in batch.items():
    if key in first and np.shape(value) != np.shape(first[key]):
      return (f"batch({seed}, {step})['{key}'] has shape {np.shape(value)} but batch(0, 0)'s "
              f'is {np.shape(first[key])}: every training batch must have the same shape')
  return None
