"""How pdistill calls any Flax Linen model: in training, in evaluation, and as a teacher.

* A model whose ``__call__`` takes ``train`` gets ``train=True`` and a ``dropout`` rng (the
  step's rng) in training, ``train=False`` in evaluation and as a teacher.
* Collections other than ``params`` (BatchNorm's ``batch_stats``, ...) are the model's
  *state*: mutable in training (the step returns the new state), fixed in evaluation.  They
  travel beside the params in the train state, checkpoints and the teacher's trajectory.

A model with neither (pdistill's own MLP and transformers) is called exactly as
``apply({'params': params}, inputs)``.
"""

from __future__ import annotations

import functools
import inspect

import flax.linen as nn

PARAMS = 'params'


@functools.lru_cache(maxsize=None)
def _takes_train(cls) -> bool:
  return 'train' in inspect.signature(cls.__call__).parameters


def takes_train(model: nn.Module) -> bool:
  return _takes_train(type(model))


def split(variables) -> tuple[dict, dict]:
  """(params, state): a model's variables as pdistill keeps them."""
  variables = dict(variables)
  params = variables.pop(PARAMS)
  return params, variables


def join(params, state) -> dict:
  return {PARAMS: params, **(state or {})}


def init(model: nn.Module, rng, inputs, **kwargs) -> tuple[dict, dict]:
  """(params, state) of a new model; a model taking ``train`` is built in training mode."""
  if takes_train(model):
    kwargs['train'] = False  # BatchNorm makes its statistics either way; no dropout rng needed
  return split(model.init(rng, inputs, **kwargs))


def train_apply(model: nn.Module, params, state, inputs, rng):
  """(outputs, new state) of a training step."""
  variables = join(params, state)
  if not takes_train(model):
    if not state:
      return model.apply(variables, inputs), state
    outputs, new = model.apply(variables, inputs, mutable=list(state))
    return outputs, dict(new)
  outputs, new = model.apply(variables, inputs, train=True, rngs={'dropout': rng},
                             mutable=list(state))
  return outputs, {**state, **new}


def eval_apply(model: nn.Module):
  """``apply(variables, inputs, **kwargs)`` in evaluation mode (also a teacher's forward)."""
  if not takes_train(model):
    return model.apply
  return functools.partial(model.apply, train=False)
