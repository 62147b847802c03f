r"""Progressive distillation of your own Flax model on your own data (README, "Your own model
and data").

A teacher with BatchNorm and dropout learns a noisy sparse parity and keeps its trajectory; an
8x narrower student is distilled progressively from the checkpoint that ``phase_transition``
finds in the teacher's transition, then from the final teacher; a CE student of the same size
is the baseline; both are loaded back with ``pdistill.load_run`` and evaluated.

  python examples/progressive_custom.py --workdir=runs/example        # README's size
  python examples/progressive_custom.py --workdir=/tmp/example --tiny  # seconds (the tests)

Every run resumes when the command is rerun, and the command line can distil from the teacher
too (the model and data are named in its config.json)::

  python -m pdistill.main --config=configs/parity_mlp.py:one_shot ... (any config whose data
  section matches; see README)
"""

from __future__ import annotations

import argparse
import os

import flax.linen as nn
import numpy as np

import pdistill


class Net(nn.Module):
  """Dense -> BatchNorm -> ReLU -> dropout -> Dense: a model pdistill does not ship."""

  width: int = 256
  dropout: float = 0.1

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Dense(self.width)(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
    x = nn.relu(x)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(2)(x)


def noisy_parity(n: int = 40, k: int = 5, noise: float = 0.05, batch_size: int = 32,
                 eval_size: int = 2048) -> pdistill.Data:
  """Sparse parity of the first ``k`` of ``n`` +-1 coordinates; each training label is flipped
  with probability ``noise`` (the eval set's are clean).  A pure function of (seed, step)."""

  def draw(rng, rows):
    x = rng.choice(np.array([-1.0, 1.0], np.float32), size=(rows, n))
    return x, (np.prod(x[:, :k], axis=1) < 0).astype(np.int32)

  def batch(seed, step):
    rng = np.random.default_rng([seed, step])
    x, y = draw(rng, batch_size)
    flip = rng.random(batch_size) < noise
    return {'inputs': x, 'labels': np.where(flip, 1 - y, y).astype(np.int32)}

  x, y = draw(np.random.default_rng(12345), eval_size)
  return pdistill.Data(batch=batch, eval_set={'inputs': x, 'labels': y}, num_outputs=2)


SIZES = {
    # data, teacher width, student width, steps (teacher and students), trajectory interval,
    # progressive: steps on the intermediate checkpoint
    'readme': (dict(n=40, k=5), 512, 64, 20_000, 250, 2_000),
    'tiny': (dict(n=10, k=2, eval_size=256), 64, 16, 1_200, 200, 300),
}
# Evals and checkpoints: fit's default (20 per run) for the readme size; fewer for the tests.
LOOP = {'readme': {}, 'tiny': dict(chunk_steps=200, eval_every_steps=200,
                                   checkpoint_every_steps=600)}


def main(workdir: str, size: str = 'readme') -> dict:
  data_kwargs, teacher_width, student_width, steps, every, first = SIZES[size]
  common = dict(data=noisy_parity, data_kwargs=data_kwargs, num_steps=steps,
                optimizer='adam', learning_rate=1e-3, **LOOP[size])
  pdistill.fit(os.path.join(workdir, 'teacher'), method='teacher',
                 model=Net(width=teacher_width), trajectory_every_steps=every, **common)
  student = dict(model=Net(width=student_width),
                 teacher_workdir=os.path.join(workdir, 'teacher'), **common)
  pdistill.fit(os.path.join(workdir, 'progressive'), method='progressive',
                 schedule=dict(kind='auto', auto_points=1, steps_per_checkpoint=(first,)),
                 **student)
  pdistill.fit(os.path.join(workdir, 'ce'), method='ce', **student)

  eval_set = noisy_parity(**data_kwargs).eval_set
  accuracy = {}
  for name in ('teacher', 'progressive', 'ce'):
    run = pdistill.load_run(os.path.join(workdir, name))
    predicted = np.argmax(run.apply(eval_set['inputs']), axis=-1)
    accuracy[name] = float(np.mean(predicted == eval_set['labels']))
    print(f'{name:12s} step {run.step:6d}  eval accuracy {accuracy[name]:.3f}')
  return accuracy


if __name__ == '__main__':
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', default='runs/example')
  parser.add_argument('--tiny', action='store_true', help='the test suite size: seconds')
  args = parser.parse_args()
  main(args.workdir, 'tiny' if args.tiny else 'readme')
