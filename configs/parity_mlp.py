r"""Sparse parity with one-hidden-layer MLPs: a teacher, then students of every method.

Choose with ``--config=configs/parity_mlp.py:METHOD[,SIZE]``:

  METHOD  pipeline (default): teacher, then every method in ``pipeline_methods``, then the plot
          teacher | ce | one_shot | progressive | curriculum: one run (students read
          ``student.teacher_workdir``)
  SIZE    full (default)  the paper's Figure 1 (left) (Panigrahi et al. 2025, sec. 3 /
                          reference scripts): n=100, k=6, SGD batch 1; teacher H=50,000, lr
                          5e-3 constant, 20M steps, trajectory every 100k; students H=100
                          (``--config.student.model.hidden=1000`` for the wider ones), lr 1e-2
                          warmup 6% + cosine, 20M steps; seeds 0 and 1 of CE, one-shot,
                          progressive on the reference's rule (checkpoint at or after
                          student_step x 1) and progressive:auto (the checkpoint in the
                          teacher's transition found by phase_transition for 1M steps, then
                          the final).  Wall time on the 2-core CPU (README, "Full size"): the
                          teacher ran at 1,250-2,270 steps/s (6.07M steps in 69 min, measured
                          2026-12-02; 20M would take 2.5-4.5 h); a distillation student is
                          bound by the H=50,000 teacher's logits (13-14k steps/s alone: ~25
                          min per 20M-step student, projected), a CE student takes 77 s.
                          Expected (the paper): the teacher's accuracy jumps near 10M steps
                          (here, seed 0: 4.9M-5.2M); progressive students jump right after;
                          CE and one-shot stay at chance for most of 20M (CE here: all 20M).
          full_short      the same teacher, and students on a budget one sitting of the
                          2-core CPU allows (README, "Full size"): they distil from the teacher
                          as of step 6M (student.teacher_final_step; its transition ran from
                          4.9M to 5.2M steps), 3M steps each, progressive on the reference's
                          rule with multiplier 3 (checkpoint at or after 3 x the student's
                          step) and progressive:auto; the same methods and seeds.  Run it with
                          --config.student.teacher_workdir=<the full teacher's workdir>.
                          Expected: progressive students learn, CE and one-shot stay at
                          chance.  Measured wall times: README.
          full_t6m        the paper's students (20M steps, the reference's rule with
                          multiplier 1) from the teacher as of step 6M: CE, progressive and
                          one-shot, seeds 0 and 1 (progressive:auto is full_short's).  Run it
                          with --config.student.teacher_workdir=<the full teacher's workdir>.
                          Measured 2026-12-02 on the 2-core CPU: CE 89-126 s per student,
                          progressive and one-shot 25 min each alone (13-14k steps/s).
                          Result (README, "Full size"): both progressive seeds at 99% by
                          5.35M-5.40M student steps, right after the teacher's jump; CE and
                          one-shot at chance for all 20M on both seeds.  The width-1,000
                          students: add --config.student.model.hidden='(1000,)' (README,
                          "Full size").
          repro           the small reproduction in README: n=50, k=5, teacher H=2,000 (600k
                          steps, 20 s on the 2-core CPU), students H=100 for 2M steps x 5 seeds
                          each of CE, one-shot, progressive (checkpoint 280k for 100k steps,
                          then the final), progressive with the automatic checkpoint choice,
                          and curriculum extraction (100k steps on the projected hidden layer).
                          4 min 35 s in all on 2026-11-24, 9 min on 2026-11-27 (the
                          same machine, slower that day).  Expected: progressive reaches
                          100% by ~200k student steps on every seed; CE and one-shot need
                          0.3M-1.2M or fail within 2M (README, "Reproduction").
          losses          the divergences on the repro size: one-shot and progressive:auto
                          students with forward_kl, reverse_kl, jsd, tvd and taid (linear
                          t), temperature 1, student seeds 0-2 (30 students; docs/divergences.md
                          has the measured table and wall time).
          smoke           seconds on a laptop CPU: n=20, k=3, H=256 -> 32, 20k teacher steps.

Examples::

  python -m pdistill.main --config=configs/parity_mlp.py:smoke --workdir=/tmp/parity_smoke
  python -m pdistill.main --config=configs/parity_mlp.py:teacher --workdir=runs/teacher
  python -m pdistill.main --config=configs/parity_mlp.py:progressive \
      --config.student.teacher_workdir=runs/teacher --workdir=runs/progressive
"""

from pdistill.config import builders as cb

SIZES = ('full', 'full_short', 'full_t6m', 'repro', 'losses', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, SIZES)
  size = options.size
  c = cb.experiment(
      options,
      data=cb.parity_data(),
      teacher=dict(model=cb.mlp((50_000,)), optim=cb.optimizer('sgd', 5e-3, 'constant'),
                   batch_size=1, num_steps=20_000_000, trajectory_every_steps=100_000),
      student=dict(model=cb.mlp((100,)), optim=cb.optimizer('sgd', 1e-2, 'cosine', 0.06),
                   batch_size=1, num_steps=20_000_000))
  c.student.curriculum.stage_steps = (1_000_000,)
  if size in ('full', 'full_short', 'full_t6m'):
    c.pipeline_methods = ('ce', 'one_shot', 'progressive', 'progressive:auto')
    c.pipeline_student_seeds = (0, 1)
    c.student.schedule.steps_per_checkpoint = (1_000_000,)  # progressive:auto's (2, T)
  if size == 'full_short':
    # The teacher as of 6M steps (its transition: 4.9M-5.2M, README "Full size"); students
    # of 3M steps, so the reference's rule walks the teacher's trajectory 3x as fast.
    c.student.update(num_steps=3_000_000, teacher_final_step=6_000_000)
    c.student.schedule.multiplier = 3.0
  elif size == 'full_t6m':
    # The paper's 20M-step students; at the teacher's transition (4.9M-5.2M) the cosine lr is
    # still ~90% of its peak (with 6M-step students it was ~8%: README "Full size").
    c.student.teacher_final_step = 6_000_000
    c.pipeline_methods = ('ce', 'progressive', 'one_shot')
  elif size in ('repro', 'losses'):
    c.student.curriculum.stage_steps = (100_000,)
    c.data.update(n=50, k=5)
    c.teacher.model.hidden = (2_000,)
    c.teacher.update(num_steps=600_000, trajectory_every_steps=10_000)
    c.student.model.hidden = (100,)
    c.student.num_steps = 2_000_000
    c.pipeline_student_seeds = (0, 1, 2, 3, 4)
    c.pipeline_methods = ('ce', 'one_shot', 'progressive', 'progressive:auto', 'curriculum')
    c.student.schedule.update(kind='manual', checkpoints=(280_000, -1),
                              steps_per_checkpoint=(100_000,))
    c.loop.update(eval_every_steps=10_000, checkpoint_every_steps=100_000)
    if size == 'losses':
      c.pipeline_student_seeds = (0, 1, 2)
      c.pipeline_methods = tuple(f'{method}@{loss}'
                                 for method in ('one_shot', 'progressive:auto')
                                 for loss in ('forward_kl', 'reverse_kl', 'jsd', 'tvd', 'taid'))
  elif size == 'smoke':
    c.student.curriculum.stage_steps = (4_000,)
    c.data.update(n=20, k=3, eval_size=1024)
    c.teacher.model.hidden = (256,)
    c.teacher.update(num_steps=20_000, trajectory_every_steps=1_000)
    c.student.model.hidden = (64,)
    c.student.num_steps = 20_000
    c.student.schedule.update(kind='manual', checkpoints=(11_000, -1),
                              steps_per_checkpoint=(4_000,))
    # sgd_block_steps 4 (one loop, no recursion): compiling the default 64 takes longer than
    # the whole run.
    c.loop.update(chunk_steps=1_000, eval_every_steps=1_000, checkpoint_every_steps=5_000,
                  log_every_secs=5.0, sgd_block_steps=4)
  return c
