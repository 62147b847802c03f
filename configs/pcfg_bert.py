r"""BERT-style masked LM on the cfg3 PCFGs: teacher, then CE / one-shot / progressive students.

``--config=configs/pcfg_bert.py:METHOD[,SIZE]``, METHOD as in configs/parity_mlp.py.

  full   the paper / reference (PCFG_mlm/scripts): cfg3b, 30% of terminals chosen (80% MASK,
         10% random terminal, 10% kept), teacher 4 layers x 32 heads, width 256; student 4
         layers x 8 heads, width 64; AdamW lr 5e-3, betas (0.9, 0.95), wd 0, 6% warmup +
         cosine, batch 512, one epoch of 1,024,000 sentences = 2,000 steps; teacher checkpoint
         every 200 steps; students at temperature 0 (the reference's 1e-20: the teacher's
         argmax) on the multiplier-1 rule.  Needs an accelerator.  Accelerator time: not
         measured yet (no accelerator has been lent; `benchmarks/accelerator_suite.py` measures
         and projects it on one).  On the 2-core CPU the suite (its run of 2026-12-02)
         projected 164 h for the teacher and 670 h for 4 methods x 3 seeds of students
         (benchmarks/RESULTS.md).
  repro  the README's CPU reproduction, on pdcfg5 (pdistill's own grammar, built by the cfg3
         construction with 5 levels instead of 7: sentences of 20-54 terminals, mean 35, instead
         of cfg3b's 294, which is what makes cfg3b an accelerator job): teacher 4 layers x 2
         heads, width 64; students 4 layers x 1 head, width 32 (head dim 32: on the CPU 8 heads
         of dim 8 are 3x slower); batch 64, AdamW 5e-3 + 6% warmup + cosine, 1,500 steps each;
         teacher checkpoint every 100 steps; students at temperature 0 (the reference's);
         ce / one_shot / progressive (2, T) from C1 = 500 (mid-drop) with T = 300 /
         progressive:auto (C1 from ``phase_transition`` on the teacher's eval loss) /
         curriculum, seeds 0-2; then Figure 4 (pcfg_phases.png) and the Figure 5 probe table
         (pcfg_probes.md).  Measured on the 2-core CPU: see README, "Reproduction: BERT on a
         PCFG" (wall time, curves, tables; the paper's effect is only partly seen).
  first_checkpoints  the (2, T) sweep of Figure 4 (right) on the repro teacher, a second
         command: one_shot and progressive from checkpoints 300 / 500 / 700 / 1,000 for
         T = 150 / 450 student steps, seed 0, distilling from
         ``--config.student.teacher_workdir=<the repro workdir>/teacher``.
  smoke  2 layers of width 32 / 16, batch 8, 200 steps: about a minute on a CPU.

  python -m pdistill.main --config=configs/pcfg_bert.py:smoke --workdir=/tmp/pcfg_bert
  python -m pdistill.main --config=configs/pcfg_bert.py:repro --workdir=runs/pcfg_bert
  python -m pdistill.main --config=configs/pcfg_bert.py:first_checkpoints \
      --workdir=runs/pcfg_bert_first_checkpoints \
      --config.student.teacher_workdir=runs/pcfg_bert/teacher
"""

from pdistill.config import builders as cb

SIZES = ('full', 'repro', 'first_checkpoints', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, SIZES)
  size = options.size
  c = cb.pcfg_experiment(options, dict(task='pcfg_mlm', mask_rate=0.3, masked_keys='visible'),
                         'bert')
  if size in ('repro', 'first_checkpoints'):
    c.data.update(grammar='pdcfg5', eval_size=256)
    c.teacher.model.update(width=64, depth=4, num_heads=2, max_len=64)
    c.teacher.update(batch_size=64, num_steps=1_500, trajectory_every_steps=100)
    c.student.model.update(width=32, depth=4, num_heads=1, max_len=64)
    c.student.update(batch_size=64, num_steps=1_500)
    c.student.schedule.update(kind='manual', checkpoints=(500, -1), steps_per_checkpoint=(300,),
                              auto_metric='eval_loss')
    c.pipeline_methods = ('ce', 'one_shot', 'progressive', 'progressive:auto', 'curriculum')
    c.pipeline_student_seeds = (0, 1, 2)
    c.loop.update(eval_every_steps=50, checkpoint_every_steps=500)
  if size == 'first_checkpoints':
    c.pipeline_methods = ('one_shot',) + tuple(
        f'progressive:{first}x{t}' for first in (300, 500, 700, 1_000) for t in (150, 450))
    c.pipeline_student_seeds = (0,)
  return c
