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
  if not isinstance(data, Data):
    raise TypeError(f'{where} returned {type(data).__name__}, not pdistill.Data')
  missing = [k for k in ('inputs', 'labels') if k not in data.eval_set]
  if missing:
    raise ValueError(f'{where}: eval_set has no {missing}')
  return data
