r"""Sparse parity with small GPT-2-style transformers: inputs as tokens, class at the last position.

``--config=configs/parity_transformer.py:METHOD[,SIZE]``, METHOD as in configs/parity_mlp.py.

  full   the reference's parity GPT-2 runs (scripts/script_gpt.sh): n=100, k=6, tokens 0/1
         (+1 -> 0, -1 -> 1), 2 layers, head dim 8; teacher 32 heads (width 256), student 4
         heads (width 32); Adam, batch 32, 6% warmup + cosine, lr 3e-4 teacher / 1e-4
         student, 250k steps (8M examples), teacher checkpoint every 3,125 steps (100k
         examples), students on the multiplier-1 rule.  Needs an accelerator: on the 2-core
         CPU a teacher step takes ~10 ms (30+ min per 250k-step run, not measured end to end).
  smoke  n=10, k=2, 2 layers of width 32 / 16: seconds on a CPU.

  python -m pdistill.main --config=configs/parity_transformer.py:smoke --workdir=/tmp/pt
"""

from pdistill.config import builders as cb

SIZES = ('full', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, SIZES)
  size = options.size
  c = cb.experiment(
      options,
      data=cb.parity_data(as_tokens=True),
      teacher=dict(model=cb.transformer('gpt2', 256, 2, 32, 100),
                   optim=cb.optimizer('adam', 3e-4, 'cosine', 0.06),
                   batch_size=32, num_steps=250_000, trajectory_every_steps=3_125),
      student=dict(model=cb.transformer('gpt2', 32, 2, 4, 100),
                   optim=cb.optimizer('adam', 1e-4, 'cosine', 0.06),
                   batch_size=32, num_steps=250_000),
      loop=dict(chunk_steps=500, eval_every_steps=3_125, checkpoint_every_steps=12_500,
                eval_batch_size=512, teacher_batch_rows=4_096))
  c.student.curriculum.update(teacher_layers=(0, 1), stage_steps=(10_000, 10_000))
  if size == 'smoke':
    c.student.curriculum.stage_steps = (150, 150)
    c.data.update(n=10, k=2, eval_size=512)
    c.teacher.model.update(width=32, num_heads=4, max_len=10)
    c.teacher.optim.learning_rate = 3e-3
    c.teacher.update(num_steps=1_500, trajectory_every_steps=250)
    c.student.model.update(width=16, num_heads=2, max_len=10)
    c.student.optim.learning_rate = 3e-3
    c.student.num_steps = 1_500
    c.student.schedule.update(kind='manual', checkpoints=(750, -1), steps_per_checkpoint=(300,))
    c.loop.update(chunk_steps=250, eval_every_steps=250, checkpoint_every_steps=500,
                  log_every_secs=5.0)
  return c
