"""The data contract of a user's task (pdistill.Data): each violation is refused before
training, naming the data function and the part at fault."""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

import pdistill
from pdistill.config import ConfigError
from pdistill.engine import Diverged
from pdistill.models import MLP
from pdistill.validation import validate

GLOBAL = np.random.default_rng(0)


def parity(batch_size: int = 16, flaw: str = '', change_at: int = -1) -> pdistill.Data:
  """2-sparse parity on 8 bits, with one ``flaw`` of the kinds the contract refuses."""

  def draw(rng, rows):
    x = rng.choice(np.array([-1.0, 1.0], np.float32), size=(rows, 8))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int32)
    out = {'inputs': x, 'labels': y}
    if flaw == 'negative_labels':
      out['labels'] = y - 1  # -1 would wrap to the last class
    if flaw == 'float_labels':
      out['labels'] = y.astype(np.float32)
    if flaw == 'zero_weights':
      out['weights'] = np.zeros(rows, np.float32)
    return out

  def batch(seed, step):
    rng = GLOBAL if flaw == 'impure' else np.random.default_rng([seed, step])
    return draw(rng, batch_size // 2 if 0 <= change_at <= step else batch_size)

  eval_set = draw(np.random.default_rng(99), 64)
  if flaw == 'nan_eval':
    eval_set['inputs'][3, 2] = np.nan
  if flaw == 'eval_shape':
    eval_set['inputs'] = eval_set['inputs'][:, :6]
  return pdistill.Data(batch=batch, eval_set=eval_set, num_outputs=2)


def _config(**kw):
  return pdistill.make_config(method='teacher', model=MLP((16,), 2), data=parity,
                              num_steps=200, learning_rate=3e-3, trajectory_every_steps=100,
                              **kw)


@pytest.mark.parametrize('flaw,message', [
    ('negative_labels', r"batch\(0, 0\)\['labels'\] holds -1, outside \[0, num_outputs=2\)"),
    ('float_labels', r"batch\(0, 0\)\['labels'\] are float32, not integers"),
    ('zero_weights', r"batch\(0, 0\)\['weights'\] sum to 0"),
    ('impure', r'batch\(0, 0\) made twice gives two different batches'),
    ('nan_eval', r"eval_set\['inputs'\] is not finite"),
    ('eval_shape', r"batch\(0, 0\)\['inputs'\] has examples of shape \(8,\) but eval_set"),
])
def test_a_broken_contract_is_refused_naming_the_data_function(flaw, message):
  with pytest.raises(ValueError, match=f'parity.*{message}'):
    _config(data_kwargs=dict(flaw=flaw))
  config = _config()  # the same flaw reached through a config (the command line)
  config.data.kwargs.flaw = flaw
  with pytest.raises(ConfigError, match=f'config.data.factory: .*{message}'):
    validate(config)


def test_num_outputs_must_match_the_model():
  config = _config()
  config.teacher.model.kwargs.num_labels = 3
  with pytest.raises(ConfigError, match='config.teacher.model: the model outputs .*num_outputs=2'):
    pdistill.train.train_and_evaluate(config, '/nonexistent/never/written')


def test_a_batch_whose_shape_changes_mid_run_is_named(tmp_path):
  with pytest.raises(ConfigError, match=r"data.factory: .*batch\(0, 150\)\['inputs'\] has "
                                        r'shape \(8, 8\) but batch\(0, 0\)'):
    pdistill.fit(str(tmp_path), method='teacher', model=MLP((16,), 2), data=parity,
                 data_kwargs=dict(change_at=150), num_steps=200, learning_rate=3e-3,
                 trajectory_every_steps=100, chunk_steps=50, show_progress=False)


class NaNNet(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(2)(x) * jnp.nan


def test_a_non_finite_eval_before_training_is_not_called_a_learning_rate_problem(tmp_path):
  with pytest.raises(Diverged, match='before any training, is not finite') as e:
    pdistill.fit(str(tmp_path), method='teacher', model=NaNNet(), data=parity,
                 num_steps=200, learning_rate=3e-3, trajectory_every_steps=100,
                 show_progress=False)
  assert 'learning rate' not in str(e.value).split('not the learning rate')[1]
