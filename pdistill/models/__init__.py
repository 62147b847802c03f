"""Model zoo: ``build(model_config, num_labels)`` returns a Flax module."""

from pdistill.models.mlp import MLP

MODEL_NAMES = ('mlp',)


def build(model_config, num_labels: int):
  if model_config.name == 'mlp':
    return MLP(hidden=tuple(model_config.hidden), num_labels=num_labels)
  raise ValueError(f'model.name must be one of {MODEL_NAMES}, got {model_config.name!r}')
