"""Curriculum extraction from the final teacher only (Gupta & Karmalkar 2025, arXiv 2503.17494).

Stage i (of ``len(curriculum.teacher_layers)``) trains the student so that a linear head on
its hidden layer matches a fixed, seeded Gaussian random projection of teacher hidden layer
``teacher_layers[i]`` (mean squared error); the heads are used for nothing else.  The last
stage distils the teacher's output as one-shot distillation does.  Stage lengths are
``curriculum.stage_steps``; the final stage runs to the end.

Student layer for teacher layer l: the same relative depth, round((l + 1) * S / T) - 1 for a
student of S and a teacher of T hidden layers (the same index when depths are equal).  The
projection maps the teacher's width to the student's width at that layer, scaled by
1/sqrt(teacher width) so projected features have the teacher's per-unit scale.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from pdistill import steps
from pdistill.distill import divergences, schedules
from pdistill.config import ConfigError
from pdistill.config.checks import require


def require_own_model(model_config, field: str) -> None:
  """Curriculum extraction reads hidden layers, which only pdistill's own models expose."""
  if model_config['name'] == 'linen':
    raise ConfigError(field, "curriculum extraction matches hidden layers of pdistill's own "
                      "models (mlp, gpt2, bert), not a 'linen' model's; train it by ce, "
                      'one_shot or progressive instead')


def check(config) -> None:
  """Checks a curriculum student's config (ConfigError naming the field)."""
  require_own_model(config.student.model, 'student.model.name')
  cur = config.student.curriculum
  layers, steps = tuple(cur.teacher_layers), tuple(cur.stage_steps)
  require(len(layers) >= 1 and all(isinstance(l, int) and l >= 0 for l in layers),
          'student.curriculum.teacher_layers',
          f'must be a non-empty tuple of teacher hidden-layer indices, got {layers!r}')
  require(len(steps) == len(layers) and all(n > 0 for n in steps),
          'student.curriculum.stage_steps',
          f'needs one positive length per teacher layer ({len(layers)}), got {steps!r}')
  require(sum(steps) < config.student.num_steps, 'student.curriculum.stage_steps',
          f'sums to {sum(steps)} >= student.num_steps={config.student.num_steps}, leaving no '
          'output-distillation stage')


def hidden_widths(model_config, field: str = 'student.teacher_workdir') -> list[int]:
  require_own_model(model_config, field)
  if model_config['name'] == 'mlp':
    return list(model_config['hidden'])
  return [model_config['width']] * model_config['depth']


def student_layer(teacher_layer: int, teacher_depth: int, student_depth: int) -> int:
  return max(round((teacher_layer + 1) * student_depth / teacher_depth) - 1, 0)


class CurriculumStudent(nn.Module):
  """The student plus one linear head per hidden stage; called plainly it is just the student."""

  student: nn.Module
  head_widths: tuple[int, ...]
  student_layers: tuple[int, ...]

  def setup(self):
    self.heads = [nn.Dense(w) for w in self.head_widths]

  def __call__(self, x, return_hidden: bool = False):
    return self.student(x, return_hidden=return_hidden)

  def stage_output(self, x, stage: int):
    _, hiddens = self.student(x, return_hidden=True)
    return self.heads[stage](hiddens[self.student_layers[stage]])

  def init_all(self, x):
    """Creates the student's and every head's parameters (used with ``init(method=...)``)."""
    return self.student(x), [self.stage_output(x, s) for s in range(len(self.head_widths))]


def projections(teacher_widths, layers, student_widths, seed: int):
  """Fixed Gaussian projections teacher layer -> student width, one per stage."""
  out = []
  for stage, layer in enumerate(layers):
    key = jax.random.fold_in(jax.random.key(seed), stage)
    d_in, d_out = teacher_widths[layer], student_widths[stage]
    out.append(jax.random.normal(key, (d_in, d_out)) / np.sqrt(d_in))
  return out


def teacher_stage_apply(teacher_apply, stage: int, layers, projection_matrices):
  """The teacher's targets in ``stage``: projected hidden features, or logits in the last stage."""
  if stage == len(layers):
    return teacher_apply

  def apply(variables, x):
    _, hiddens = teacher_apply(variables, x, return_hidden=True)
    return hiddens[layers[stage]] @ projection_matrices[stage]

  return apply


def make_stage_step(model: CurriculumStudent, tx: optax.GradientTransformation, stage: int,
                    objective: divergences.Objective):
  """``(state, batch, rng) -> (state, metrics)`` for one stage: the hidden stages' mean squared
  error, then ``objective`` (the student's divergence) on the logits in the last."""
  hidden_stage = stage < len(model.head_widths)
  logits_loss = steps.make_logits_loss(objective)

  def loss_fn(params, batch, model_state, loss_state, rng):
    del rng  # pdistill's own models only (setup refuses stateful or dropout students)
    variables = {'params': params, **model_state}
    logits = model.apply(variables, batch['inputs'])
    if hidden_stage:
      predicted = model.apply(variables, batch['inputs'], stage, method=model.stage_output)
      loss = jnp.mean((predicted - batch[steps.TEACHER_FEATURES]) ** 2)
    else:
      loss, loss_state = logits_loss(logits, batch, loss_state)
    return loss, (logits, model_state, loss_state)

  return steps.make_step(loss_fn, tx)


@dataclasses.dataclass
class Stages:
  """A run's curriculum: the wrapped student, stage start steps, projections."""

  model: CurriculumStudent
  starts: list[int]  # start step of each stage; the last (output) stage runs to the end
  layers: tuple[int, ...]
  projection_matrices: list

  @classmethod
  def create(cls, run, teacher_model_config, student):
    cur = run.curriculum
    layers = tuple(cur.teacher_layers)
    teacher_widths = hidden_widths(teacher_model_config)
    student_widths = hidden_widths(run.model, 'student.model.name')
    bad = [l for l in layers if not 0 <= l < len(teacher_widths)]
    if bad:
      raise ConfigError('student.curriculum.teacher_layers',
                        f'{bad} out of range: the teacher has hidden layers 0..'
                        f'{len(teacher_widths) - 1}')
    student_layers = tuple(student_layer(l, len(teacher_widths), len(student_widths))
                           for l in layers)
    heads = tuple(student_widths[l] for l in student_layers)
    return cls(model=CurriculumStudent(student, heads, student_layers),
               starts=schedules.starts_from_lengths(cur.stage_steps),
               layers=layers,
               projection_matrices=projections(teacher_widths, layers, heads,
                                               cur.projection_seed))

  def stage(self, step: int) -> int:
    return schedules.position(self.starts, step)

  def teacher_apply(self, apply, stage: int):
    return teacher_stage_apply(apply, stage, self.layers, self.projection_matrices)

  def teacher_target(self, stage: int) -> str:
    """The batch key of the teacher's outputs in ``stage``: features, then logits."""
    return steps.TEACHER_FEATURES if stage < len(self.layers) else steps.TEACHER_LOGITS
