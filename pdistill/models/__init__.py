"""Model zoo, the owner of ``model.name``: ``MODELS`` maps each name to its build and check.

``build(model_config, task)`` returns a Flax module for a task's inputs and outputs;
``check(config, run, seq)`` refuses a model section before anything runs; ``fast_paths``
says which faster exact computations a model admits, so the engine never names a model.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from pdistill.config import ConfigError, references
from pdistill.config.checks import choice, get, positive, require
from pdistill.models import mlp as mlp_lib
from pdistill.models import transformer as transformer_lib
from pdistill.models.mlp import MLP
from pdistill.models.transformer import Transformer


def _tuples(value):
  """JSON gives lists where a module's fields held tuples (hashable, as Linen prefers)."""
  if isinstance(value, (list, tuple)):
    return tuple(_tuples(v) for v in value)
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  return value


def inputs_error(name: str, tokens: bool, task_name: str) -> str | None:
  """Why model ``name`` cannot read a task whose inputs are tokens (``tokens``) or real
  values, or None: the one statement of which models take which inputs."""
  wants = MODELS[name].tokens
  if wants is None or wants == tokens:
    return None
  if wants:
    return f'model {name!r} needs token inputs: set data.as_tokens=True (task {task_name!r} ' \
           'gives real values)'
  return f"{name!r} takes real-valued inputs but data.task={task_name!r} gives tokens; use " \
         "'gpt2' or 'bert'"


@dataclasses.dataclass(frozen=True)
class FastPaths:
  """Exact computations faster than the generic ones, where a model admits them."""

  teacher_apply: Callable | None = None  # (variables, inputs) -> logits, as a teacher
  block_sgd: bool = False  # plain SGD may run K steps per pass (pdistill.lowrank_sgd)


def fast_paths(model_config) -> FastPaths:
  """What ``model_config`` (a config section or a saved run's dict) admits: a one-hidden-layer
  MLP gets its logits summed over hidden blocks and the block SGD path."""
  if model_config['name'] == 'mlp' and len(model_config['hidden']) == 1:
    return FastPaths(teacher_apply=mlp_lib.apply_by_hidden_blocks, block_sgd=True)
  return FastPaths()


def _build_mlp(model_config, task):
  return MLP(hidden=tuple(model_config['hidden']), num_labels=task.num_outputs)


def _build_transformer(model_config, task):
  name = model_config['name']
  return Transformer(vocab_size=task.vocab_size, num_outputs=task.num_outputs,
                     width=model_config['width'], depth=model_config['depth'],
                     num_heads=model_config['num_heads'], max_len=model_config['max_len'],
                     causal=name == 'gpt2', readout=task.readout,
                     pad_id=task.pad_id if name == 'bert' else None,
                     hidden_keys=task.hidden_keys,
                     attention=model_config.get('attention', 'flax'),
                     dtype=model_config.get('dtype', 'float32'))


def _build_linen(model_config, task):
  del task
  cls = references.resolve(model_config['module'], 'model.module')
  kwargs = model_config.get('kwargs') or {}
  kwargs = kwargs.to_dict() if hasattr(kwargs, 'to_dict') else dict(kwargs)
  return cls(**_tuples(kwargs))


def _check_mlp(config, run: str, seq) -> None:
  hidden = get(config, f'{run}.model.hidden')
  require(len(hidden) > 0 and all(isinstance(h, int) and h > 0 for h in hidden),
          f'{run}.model.hidden', f'must be a non-empty tuple of positive widths, got {hidden!r}')


def _check_transformer(config, run: str, seq) -> None:
  model = get(config, f'{run}.model')
  for field in ('width', 'depth', 'num_heads', 'max_len'):
    positive(config, f'{run}.model.{field}')
  if 'attention' in model:
    choice(config, f'{run}.model.attention', transformer_lib.ATTENTION)
  if 'dtype' in model:
    choice(config, f'{run}.model.dtype', tuple(transformer_lib.DTYPES))
  require(model.width % model.num_heads == 0, f'{run}.model.num_heads',
          f'{model.num_heads} heads do not divide width {model.width}')
  require(not seq or model.max_len >= seq, f'{run}.model.max_len',
          f'{model.max_len} is shorter than the task\'s sequences ({seq} tokens)')


def _check_linen(config, run: str, seq) -> None:
  model = get(config, f'{run}.model')
  require(bool(model.get('module')), f'{run}.model.module',
          'is empty: name a Flax Linen module class, "pkg.mod:Class" or "/path/script.py:Class"')
  references.resolve(model.module, f'{run}.model.module')  # names the field if missing
  try:
    _build_linen(model, None)
  except TypeError as e:
    raise ConfigError(f'{run}.model.kwargs', f'do not fit {model.module}: {e}') from None


@dataclasses.dataclass(frozen=True)
class ModelKind:
  build: Callable  # (model section, task) -> a Flax Linen module
  check: Callable  # (config, 'teacher' | 'student', sequence length) -> None or ConfigError
  tokens: bool | None  # True: token inputs only; False: real-valued only; None: either


MODELS = {
    'mlp': ModelKind(_build_mlp, _check_mlp, tokens=False),
    'gpt2': ModelKind(_build_transformer, _check_transformer, tokens=True),
    'bert': ModelKind(_build_transformer, _check_transformer, tokens=True),
    # Any Flax Linen module of the user's, {'module': 'pkg.mod:Class' or '/path/file.py:Class',
    # 'kwargs': {...}} (what ``pdistill.fit`` records for a module given).
    'linen': ModelKind(_build_linen, _check_linen, tokens=None),
}
MODEL_NAMES = tuple(MODELS)


def check(config, run: str, seq: int | None) -> None:
  """Checks ``config[run].model`` for a task of sequence length ``seq`` (None: real-valued
  inputs, as ``data.tasks.check`` gives it)."""
  choice(config, f'{run}.model.name', MODELS)
  name = config[run].model.name
  problem = inputs_error(name, seq is not None, config.data.task)
  if problem:
    raise ConfigError('data.as_tokens' if MODELS[name].tokens else f'{run}.model.name', problem)
  MODELS[name].check(config, run, seq)


def build(model_config, task):
  name = model_config['name']
  if name not in MODELS:
    raise ValueError(f'model.name must be one of {MODEL_NAMES}, got {name!r}')
  problem = inputs_error(name, task.vocab_size is not None, task.name)
  if problem:
    raise ValueError(problem)
  return MODELS[name].build(model_config, task)
