"""Pieces every experiment config is made of, so a config file holds only what is its own.

A config file's ``get_config('METHOD,SIZE')`` picks the method (pipeline | teacher | ce |
one_shot | progressive) and the size (full | repro | smoke, or what the file offers).
"""

from __future__ import annotations

import ml_collections

METHODS = ('pipeline', 'teacher', 'ce', 'one_shot', 'progressive')


def parse_options(arg: str | None, sizes: tuple[str, ...]) -> tuple[str, str]:
  """'METHOD[,SIZE]' in any order -> (method, size); defaults: pipeline, the first size."""
  tokens = [t for t in (arg or '').split(',') if t]
  unknown = [t for t in tokens if t not in METHODS + sizes]
  if unknown:
    raise ValueError(f'unknown config option(s) {unknown}: valid methods {METHODS}, '
                     f'sizes {sizes}')
  method = next((t for t in tokens if t in METHODS), 'pipeline')
  size = next((t for t in tokens if t in sizes), sizes[0])
  return method, size


def optimizer(name='sgd', learning_rate=5e-3, lr_schedule='constant', warmup_frac=0.0, *,
              b1=0.9, b2=0.999, weight_decay=0.0):
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, lr_schedule=lr_schedule, warmup_frac=warmup_frac,
      momentum=0.0, b1=b1, b2=b2, eps=1e-8, weight_decay=weight_decay))


def mlp(hidden):
  return ml_collections.ConfigDict(dict(name='mlp', hidden=tuple(hidden)))


def transformer(name, width, depth, num_heads, max_len):
  return ml_collections.ConfigDict(dict(name=name, width=width, depth=depth,
                                        num_heads=num_heads, max_len=max_len))


def experiment(method: str, size: str, data: dict, teacher: dict, student: dict,
               loop: dict | None = None) -> ml_collections.ConfigDict:
  """The full config: ``teacher``/``student`` give model, optim, batch_size, num_steps, ..."""
  c = ml_collections.ConfigDict()
  c.method = method
  c.size = size
  c.seed = 0
  c.pipeline_methods = ('ce', 'one_shot', 'progressive')
  c.pipeline_student_seeds = (0,)  # the pipeline trains every student method once per seed
  c.data = ml_collections.ConfigDict(dict(eval_seed=12345, **data))
  c.teacher = ml_collections.ConfigDict(teacher)  # needs trajectory_every_steps
  c.student = ml_collections.ConfigDict(dict(dict(
      trajectory_every_steps=0,
      alpha=0.0,  # weight of the label CE; 1 - alpha on the teacher targets
      temperature=1.0,  # 0 = teacher argmax
      teacher_workdir='',  # a finished teacher run; the pipeline fills it in
      schedule=ml_collections.ConfigDict(dict(
          kind='multiplier',  # progressive only: manual | multiplier
          checkpoints=(-1,),  # manual: teacher steps (-1 = final) ...
          steps_per_checkpoint=(),  # ... each used this many student steps; the last till end
          multiplier=1.0))),  # multiplier: first checkpoint at or after student_step * this
      **student))
  c.loop = ml_collections.ConfigDict(dict(
      chunk_steps=5_000,  # steps fused into one jit call
      eval_every_steps=50_000, checkpoint_every_steps=100_000, eval_batch_size=512,
      teacher_batch_rows=1_024, log_every_secs=30.0,
      num_devices=0))  # 0 = all local devices (as many as evenly split the batch)
  c.loop.update(loop or {})
  return c
