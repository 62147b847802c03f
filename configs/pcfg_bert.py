r"""BERT-style masked LM on the cfg3 PCFGs: teacher, then CE / one-shot / progressive students.

``--config=configs/pcfg_bert.py:METHOD[,SIZE]``, METHOD as in configs/parity_mlp.py.

  full   the paper / reference (PCFG_mlm/scripts): cfg3b, 30% of terminals chosen (80% MASK,
         10% random terminal, 10% kept), teacher 4 layers x 32 heads, width 256; student 4
         layers x 8 heads, width 64; AdamW lr 5e-3, betas (0.9, 0.95), wd 0, 6% warmup +
         cosine, batch 512, one epoch of 1,024,000 sentences = 2,000 steps; teacher checkpoint
         every 200 steps; students at temperature 0 (the reference's 1e-20: the teacher's
         argmax) on the multiplier-1 rule.  Needs an accelerator (a teacher step on the 2-core
         CPU: see benchmarks/RESULTS.md).
  repro  the README's reduced CPU reproduction (~30 min on 2 CPU cores): 2-layer models,
         teacher width 64 / student width 32 with head dim 32 (2 heads / 1 head: on the CPU
         8 heads of dim 8 are 3x slower, from the [batch, heads, 433, 433] attention
         tensors), batch 16, 1,500 steps each, teacher checkpoint every 100 steps, 2 student
         seeds, students on the reference's multiplier-1 rule.
  smoke  2 layers of width 32 / 16, batch 8, 200 steps: about a minute on a CPU.

  python -m pdistill.main --config=configs/pcfg_bert.py:smoke --workdir=/tmp/pcfg_bert
  python -m pdistill.main --config=configs/pcfg_bert.py:repro --workdir=runs/pcfg_bert_repro
"""

from pdistill.config import builders as cb

SIZES = ('full', 'repro', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, SIZES)
  size = options.size
  c = cb.pcfg_experiment(options, dict(task='pcfg_mlm', mask_rate=0.3, masked_keys='visible'),
                         'bert')
  if size == 'repro':
    c.teacher.model.update(width=64, depth=2, num_heads=2)
    c.teacher.update(batch_size=16, num_steps=1_500, trajectory_every_steps=100)
    c.student.model.update(width=32, depth=2, num_heads=1)
    c.student.update(batch_size=16, num_steps=1_500)
    c.pipeline_student_seeds = (0, 1)
    c.data.eval_size = 256
    c.loop.update(eval_every_steps=50, checkpoint_every_steps=100)
  return c
