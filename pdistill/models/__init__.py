"""Model zoo: ``build(model_config, task)`` returns a Flax module for a task's inputs/outputs."""

from pdistill.config import references
from pdistill.models.mlp import MLP
from pdistill.models.transformer import Transformer

# 'linen': any Flax Linen module of the user's, {'module': 'pkg.mod:Class' or
# '/path/file.py:Class', 'kwargs': {...}} (what ``pdistill.fit`` records for a module given).
MODEL_NAMES = ('mlp', 'gpt2', 'bert', 'linen')


def _tuples(value):
  """JSON gives lists where a module's fields held tuples (hashable, as Linen prefers)."""
  if isinstance(value, (list, tuple)):
    return tuple(_tuples(v) for v in value)
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  return value


def is_one_hidden_layer_mlp(model_config) -> bool:
  """The models ``lowrank_sgd`` trains and ``mlp.logits_by_hidden_blocks`` evaluates
  (``model_config``: a config section or a saved run's dict)."""
  return model_config['name'] == 'mlp' and len(model_config['hidden']) == 1


def build(model_config, task):
  name = model_config['name']
  if name == 'mlp':
    if task.vocab_size is not None:
      raise ValueError(f'model.name=mlp needs real-valued inputs, but task {task.name!r} gives '
                       'tokens; use gpt2 or bert')
    return MLP(hidden=tuple(model_config.hidden), num_labels=task.num_outputs)
  if name in ('gpt2', 'bert'):
    if task.vocab_size is None:
      raise ValueError(f'model.name={name} needs token inputs; set data.as_tokens=True')
    return Transformer(vocab_size=task.vocab_size, num_outputs=task.num_outputs,
                       width=model_config.width, depth=model_config.depth,
                       num_heads=model_config.num_heads, max_len=model_config.max_len,
                       causal=name == 'gpt2', readout=task.readout,
                       pad_id=task.pad_id if name == 'bert' else None,
                       hidden_keys=task.hidden_keys,
                       attention=model_config.get('attention', 'flax'),
                       dtype=model_config.get('dtype', 'float32'))
  if name == 'linen':
    cls = references.resolve(model_config.module, 'model.module')
    kwargs = model_config.get('kwargs') or {}
    kwargs = kwargs.to_dict() if hasattr(kwargs, 'to_dict') else dict(kwargs)
    return cls(**_tuples(kwargs))
  raise ValueError(f'model.name must be one of {MODEL_NAMES}, got {name!r}')
