"""Tiny variants of the parity config: seconds per run, still large enough to learn."""

import os

from pdistill.config import files

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config_module(name='parity_mlp'):
  return files.load_module(os.path.join(REPO, 'configs', f'{name}.py'))


def tiny(method='teacher', **loop):
  """n=12, k=2 parity; teacher H=64 learns it in ~2k steps."""
  c = load_config_module().get_config(f'{method},smoke')
  c.data.update(n=12, k=2, eval_size=512)
  c.teacher.model.hidden = (64,)
  c.teacher.update(num_steps=3_000, trajectory_every_steps=500)
  c.student.model.hidden = (16,)
  c.student.num_steps = 1_000
  c.student.schedule.update(kind='manual', checkpoints=(1_000, -1), steps_per_checkpoint=(300,))
  c.student.curriculum.stage_steps = (300,)
  c.loop.update(chunk_steps=250, eval_every_steps=250, checkpoint_every_steps=500,
                log_every_secs=1e9, **loop)
  return c
