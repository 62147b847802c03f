"""Model zoo: ``build(model_config, task)`` returns a Flax module for a task's inputs/outputs."""

from pdistill.models.mlp import MLP
from pdistill.models.transformer import Transformer

MODEL_NAMES = ('mlp', 'gpt2', 'bert')


def is_one_hidden_layer_mlp(model_config) -> bool:
  """The models ``lowrank_sgd`` trains and ``mlp.logits_by_hidden_blocks`` evaluates
  (``model_config``: a config section or a saved run's dict)."""
  return model_config['name'] == 'mlp' and len(model_config['hidden']) == 1


def build(model_config, task):
  name = model_config.name
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
                       hidden_keys=task.hidden_keys)
  raise ValueError(f'model.name must be one of {MODEL_NAMES}, got {name!r}')
