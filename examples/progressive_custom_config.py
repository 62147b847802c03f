r"""The runs of examples/progressive_custom.py as a config file, for the command line.

A config names a user's model and data by reference, as ``pdistill.fit`` pins them in
config.json, so command-line students distil from the example's teacher (and the example's
students could distil from a teacher trained here)::

  python examples/progressive_custom.py --workdir=runs/example
  python -m pdistill.main --config=examples/progressive_custom_config.py:one_shot \
      --config.student.teacher_workdir=runs/example/teacher --workdir=runs/example/one_shot

Options: METHOD (teacher | ce | one_shot | progressive), SIZE (readme | tiny: the example's).
"""

import os

from pdistill.config import builders as cb
from pdistill.config import references

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'progressive_custom.py')


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, ('readme', 'tiny'))
  sizes = references.resolve(f'{EXAMPLE}:SIZES', 'size')  # the example's own numbers
  data_kwargs, teacher_width, student_width, steps, every, first = sizes[options.size]
  eval_size = data_kwargs.get('eval_size', 2048)  # noisy_parity's default

  def run(width):
    return dict(model=dict(name='linen', module=f'{EXAMPLE}:Net',
                           kwargs=dict(width=width, dropout=0.1)),
                optim=cb.optimizer('adam', 1e-3, 'constant'), batch_size=32, num_steps=steps,
                trajectory_every_steps=every)

  every_eval = max(steps // 20, 1)
  c = cb.experiment(
      options,
      data=dict(task='custom', factory=f'{EXAMPLE}:noisy_parity', kwargs=data_kwargs,
                eval_size=eval_size),
      teacher=run(teacher_width), student=dict(run(student_width), trajectory_every_steps=0),
      loop=dict(chunk_steps=min(every_eval, 1_000), eval_every_steps=every_eval,
                checkpoint_every_steps=every_eval))
  c.loop.update(references.resolve(f'{EXAMPLE}:LOOP', 'size')[options.size])
  c.student.schedule.update(kind='auto', auto_points=1, steps_per_checkpoint=(first,))
  return c
