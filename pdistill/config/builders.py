"""Pieces every experiment config is made of, so a config file holds only what is its own.

A config file's ``get_config('METHOD,SIZE[,sweep]')`` picks the method (pipeline | teacher | ce |
one_shot | progressive | curriculum), the size (full | repro | smoke, or what the file offers)
and, with ``sweep``, the paper's learning-rate x seed grid for that one run.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_collections

from pdistill.config import LOSS_DEFAULTS, METHODS

# One-hidden-layer MLPs under plain SGD take up to this many steps per pass over the first
# layer (loop.sgd_block_steps; pdistill/lowrank_sgd.py: the same SGD, 2-3x faster).
SGD_BLOCK_STEPS = 64

# Panigrahi et al. tune every run's learning rate over these, with 3 seeds (appendix B).
PAPER_SWEEP = dict(learning_rates=(1e-2, 7.5e-3, 5e-3, 2.5e-3, 1e-3), seeds=(0, 1, 2))


class Options(NamedTuple):
  method: str
  size: str
  sweep: bool


def parse_options(arg: str | None, sizes: tuple[str, ...]) -> Options:
  """'METHOD[,SIZE][,sweep]' in any order; defaults: pipeline, the first size, no sweep."""
  tokens = [t for t in (arg or '').split(',') if t]
  unknown = [t for t in tokens if t not in METHODS + sizes + ('sweep',)]
  if unknown:
    raise ValueError(f'unknown config option(s) {unknown}: valid methods {METHODS}, '
                     f'sizes {sizes}, and sweep')
  method = next((t for t in tokens if t in METHODS), 'pipeline')
  size = next((t for t in tokens if t in sizes), sizes[0])
  return Options(method, size, 'sweep' in tokens)


def optimizer(name='sgd', learning_rate=5e-3, lr_schedule='constant', warmup_frac=0.0, *,
              b1=0.9, b2=0.999, weight_decay=0.0):
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, lr_schedule=lr_schedule, warmup_frac=warmup_frac,
      momentum=0.0, b1=b1, b2=b2, eps=1e-8, weight_decay=weight_decay))


def mlp(hidden):
  return ml_collections.ConfigDict(dict(name='mlp', hidden=tuple(hidden)))


def transformer(name, width, depth, num_heads, max_len, attention='flax', dtype='float32'):
  """attention: 'flax' (Flax's softmax, what the CPU reproductions ran) or 'fused'
  (jax.nn.dot_product_attention: cuDNN on GPUs; ``accelerator_sizes`` picks it); dtype: the
  compute dtype, 'float32' (the paper's) or 'bfloat16' (params stay float32)."""
  return ml_collections.ConfigDict(dict(name=name, width=width, depth=depth,
                                        num_heads=num_heads, max_len=max_len,
                                        attention=attention, dtype=dtype))


def experiment(options: Options, data: dict, teacher: dict, student: dict,
               loop: dict | None = None) -> ml_collections.ConfigDict:
  """The full config: ``teacher``/``student`` give model, optim, batch_size, num_steps, ..."""
  c = ml_collections.ConfigDict()
  c.method = options.method
  c.size = options.size
  c.seed = 0
  # A non-empty grid runs the one run of ``method`` for every (learning rate, seed) as a
  # single vmapped program (pdistill/sweep.py); the run's own seed and learning rate are unused.
  c.sweep = ml_collections.ConfigDict(PAPER_SWEEP if options.sweep else
                                      dict(learning_rates=(), seeds=()))
  c.sweep.learning_rates = tuple(float(x) for x in c.sweep.learning_rates)
  c.pipeline_methods = ('ce', 'one_shot', 'progressive')
  c.pipeline_student_seeds = (0,)  # the pipeline trains every student method once per seed
  # () = one teacher, trained with ``seed``; (t1, t2, ...) = one teacher per seed, and every
  # student once per (teacher, student seed) pair
  c.pipeline_teacher_seeds = ()
  # A teacher whose eval curve never rises beyond its noise teaches nothing to compare: the
  # pipeline stops after it, unless this is set.
  c.pipeline_distil_unlearned_teacher = False
  c.data = ml_collections.ConfigDict({'eval_seed': 12345, **data})
  c.teacher = ml_collections.ConfigDict(teacher)  # needs trajectory_every_steps
  c.student = ml_collections.ConfigDict(dict(dict(
      trajectory_every_steps=0,
      alpha=0.0,  # weight of the label CE; 1 - alpha on the divergence to the teacher
      temperature=1.0,  # softens the teacher only; 0 = its argmax
      loss=LOSS_DEFAULTS['loss'],  # the divergence (pdistill.distill.divergences.NAMES)
      loss_kw=ml_collections.ConfigDict(LOSS_DEFAULTS['loss_kw']),  # the divergences' knobs
      teacher_workdir='',  # a finished teacher run; the pipeline fills it in
      # The teacher checkpoint that counts as its final one: -1 = its last step (the run must
      # be finished); a saved trajectory step = distil from the teacher as of that step (the
      # schedules use no later checkpoint), e.g. while it still trains.
      teacher_final_step=-1,
      schedule=ml_collections.ConfigDict(dict(
          kind='multiplier',  # progressive only: manual | multiplier | auto
          checkpoints=(-1,),  # manual: teacher steps (-1 = final) ...
          steps_per_checkpoint=(),  # ... each used this many student steps; the last till end
          multiplier=1.0,  # multiplier: first checkpoint at or after student_step * this
          auto_points=1,  # auto: intermediate checkpoints proposed from the teacher's curve
          auto_at=(),  # auto: or at these fractions of its rise, e.g. (0.3, 0.6)
          auto_metric='eval_accuracy',  # auto: the curve whose transition is located
          # multiplier and auto read the teacher's whole trajectory: one with missing points
          # (removed, or saved by a resumed run that lost them) is refused unless this is set
          sparse_trajectory=False)),
      curriculum=ml_collections.ConfigDict(dict(  # method curriculum (Gupta & Karmalkar)
          teacher_layers=(0,),  # teacher hidden layers matched, one stage each, in order
          stage_steps=(1_000,),  # student steps of each of those stages; then output KD
          projection_seed=0))),
      **student))
  c.loop = ml_collections.ConfigDict(dict(
      chunk_steps=5_000,  # steps fused into one jit call
      eval_every_steps=50_000, checkpoint_every_steps=100_000, eval_batch_size=512,
      teacher_batch_rows=1_024, log_every_secs=30.0,
      stop_on_nonfinite=True,  # a non-finite eval loss or param ends the run (exit 3)
      sgd_block_steps=SGD_BLOCK_STEPS,
      host_data_processes=0,  # > 1: host-made batches (PCFG, text) by that many processes
      num_devices=0))  # 0 = all local devices (as many as evenly split the batch)
  c.loop.update(loop or {})
  return c


def accelerator_sizes(c) -> None:
  """The paper-size transformer runs (made for accelerators) attend through
  jax.nn.dot_product_attention, equal to Flax's to 1e-5; the CPU sizes keep Flax's, whose
  rounding their recorded results come from."""
  for run in (c.teacher, c.student):
    if run.model.name in ('gpt2', 'bert'):
      run.model.attention = 'fused'


def parity_data(n=100, k=6, **extra) -> dict:
  return dict(task='sparse_parity', n=n, k=k, num_labels=2, support='first', support_seed=0,
              eval_size=4096, **extra)


def pcfg_experiment(options: Options, data: dict, model_name: str):
  """The paper's PCFG setting for ``model_name`` (bert | gpt2), at size full or smoke.

  full: cfg3b; teacher 4 layers x 32 heads, width 256; student 4 layers x 8 heads, width 64;
  AdamW lr 5e-3, betas (0.9, 0.95), wd 0, 6% warmup + cosine, batch 512, 2,000 steps (one
  epoch of 1,024,000 sentences), teacher checkpoint every 200 steps, students at temperature
  0 (the reference's 1e-20) on the multiplier-1 rule.  Other sizes start from full.
  """
  adamw = lambda: optimizer('adamw', 5e-3, 'cosine', 0.06, b1=0.9, b2=0.95)
  c = experiment(
      options, data=dict(grammar='cfg3b', eval_size=512, **data),
      teacher=dict(model=transformer(model_name, 256, 4, 32, 1024), optim=adamw(),
                   batch_size=512, num_steps=2_000, trajectory_every_steps=200),
      student=dict(model=transformer(model_name, 64, 4, 8, 1024), optim=adamw(),
                   batch_size=512, num_steps=2_000, temperature=0.0),
      loop=dict(chunk_steps=10, eval_every_steps=100, checkpoint_every_steps=200,
                eval_batch_size=64, teacher_batch_rows=64, log_every_secs=30.0))
  c.student.curriculum.update(teacher_layers=(1, 3), stage_steps=(200, 200))
  if options.size == 'full':
    accelerator_sizes(c)
  if options.size == 'smoke':
    c.student.curriculum.update(teacher_layers=(0, 1), stage_steps=(25, 25))
    # Head dim 32: on a CPU, 8 heads of dim 8 are 3x slower ([batch, heads, T, T] tensors).
    c.teacher.model.update(width=32, depth=2, num_heads=1)
    c.teacher.update(batch_size=8, num_steps=200, trajectory_every_steps=50)
    c.student.model.update(width=16, depth=2, num_heads=1)
    c.student.update(batch_size=8, num_steps=200)
    c.student.schedule.update(kind='manual', checkpoints=(100, -1), steps_per_checkpoint=(50,))
    c.data.eval_size = 64
    c.loop.update(eval_every_steps=50, checkpoint_every_steps=100, log_every_secs=5.0)
  return c
