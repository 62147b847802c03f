r"""GPT-2-style next-token prediction on the cfg3 PCFGs, with trajectory distillation.

``--config=configs/pcfg_gpt2.py:METHOD[,SIZE]``, METHOD as in configs/parity_mlp.py.

Targets can be restricted to the right-boundary tokens of the spans of depth-D non-terminals
(``data.boundary_depth=D``; 6, the default, counts every token).

  full   cfg3b; teacher 4 layers x 32 heads, width 256; student 4 layers x 8 heads, width 64;
         AdamW lr 5e-3, betas (0.9, 0.95), wd 0, 6% warmup + cosine, batch 512, 2,000 steps,
         teacher checkpoint every 200 steps, students at temperature 0 on the multiplier-1
         rule.  Needs an accelerator.
  smoke  2 layers of width 32 / 16, batch 8, 200 steps: about a minute on a CPU.

  python -m pdistill.main --config=configs/pcfg_gpt2.py:smoke --workdir=/tmp/pcfg_gpt2
"""

from pdistill import config_builders as cb

SIZES = ('full', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  method, size = cb.parse_options(arg, SIZES)
  adamw = lambda: cb.optimizer('adamw', 5e-3, 'cosine', 0.06, b1=0.9, b2=0.95)
  c = cb.experiment(
      method, size,
      data=dict(task='pcfg_next_token', grammar='cfg3b', boundary_depth=6, eval_size=512),
      teacher=dict(model=cb.transformer('gpt2', 256, 4, 32, 1024), optim=adamw(),
                   batch_size=512, num_steps=2_000, trajectory_every_steps=200),
      student=dict(model=cb.transformer('gpt2', 64, 4, 8, 1024), optim=adamw(),
                   batch_size=512, num_steps=2_000, temperature=0.0),
      loop=dict(chunk_steps=10, eval_every_steps=100, checkpoint_every_steps=200,
                eval_batch_size=64, teacher_batch_rows=64, log_every_secs=30.0))
  if size == 'smoke':
    c.teacher.model.update(width=32, depth=2, num_heads=1)
    c.teacher.update(batch_size=8, num_steps=200, trajectory_every_steps=50)
    c.student.model.update(width=16, depth=2, num_heads=1)
    c.student.update(batch_size=8, num_steps=200)
    c.student.schedule.update(kind='manual', checkpoints=(100, -1), steps_per_checkpoint=(50,))
    c.data.eval_size = 64
    c.loop.update(eval_every_steps=50, checkpoint_every_steps=100, log_every_secs=5.0)
  return c
