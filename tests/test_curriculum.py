"""Curriculum extraction: stage targets and loss against numpy, stage switching in a run."""

import jax
import ml_collections
import numpy as np
import pytest

from pdistill import optimizers, steps
from pdistill.distill import curriculum, divergences
from pdistill.config import ConfigError
from pdistill.metrics import log as metrics_log
from pdistill.validation import validate
from pdistill.models.mlp import MLP
from pdistill.train import train_and_evaluate
from tiny_configs import tiny


def test_stage_targets_and_mse_match_numpy():
  rng = np.random.default_rng(0)
  x = rng.choice([-1.0, 1.0], size=(6, 5)).astype(np.float32)
  teacher = MLP(hidden=(9,), num_labels=2)
  t_params = teacher.init(jax.random.key(0), x)['params']
  student = curriculum.CurriculumStudent(MLP(hidden=(4,), num_labels=2), head_widths=(4,),
                                         student_layers=(0,))
  s_params = student.init(jax.random.key(1), x, method=student.init_all)['params']
  (p,) = curriculum.projections([9], (0,), [4], seed=3)
  assert p.shape == (9, 4)
  np.testing.assert_allclose(np.std(np.asarray(p)) * 3, 1, atol=0.3)  # N(0, 1/9)

  apply = curriculum.teacher_stage_apply(teacher.apply, 0, (0,), [p])
  targets = np.asarray(apply({'params': t_params}, x))
  w1, b1 = (np.asarray(t_params['Dense_0'][k]) for k in ('kernel', 'bias'))
  np.testing.assert_allclose(targets, np.maximum(x @ w1 + b1, 0) @ np.asarray(p), rtol=1e-5,
                             atol=1e-6)
  # The last stage's targets are the teacher's logits.
  last = curriculum.teacher_stage_apply(teacher.apply, 1, (0,), [p])
  np.testing.assert_allclose(last({'params': t_params}, x), teacher.apply({'params': t_params}, x))

  opt = ml_collections.ConfigDict(dict(name='sgd', learning_rate=0.0, lr_schedule='constant',
                                       warmup_frac=0.0, momentum=0.0, weight_decay=0.0))
  tx = optimizers.make_optimizer(opt, 10)
  step = curriculum.make_stage_step(student, tx, 0, divergences.Objective('forward_kl', alpha=0.0))
  batch = {'inputs': x, 'labels': np.zeros(6, np.int32), steps.TEACHER_FEATURES: targets}
  _, metrics = step(steps.create_state(s_params, tx), batch, None)
  sw1, sb1 = (np.asarray(s_params['student']['Dense_0'][k]) for k in ('kernel', 'bias'))
  hw, hb = (np.asarray(s_params['heads_0'][k]) for k in ('kernel', 'bias'))
  predicted = np.maximum(x @ sw1 + sb1, 0) @ hw + hb
  np.testing.assert_allclose(metrics['loss'], np.mean((predicted - targets) ** 2), rtol=1e-5)


def test_student_layer_mapping():
  assert curriculum.student_layer(0, 1, 1) == 0
  assert [curriculum.student_layer(l, 4, 2) for l in range(4)] == [0, 0, 1, 1]
  assert [curriculum.student_layer(l, 2, 4) for l in range(2)] == [1, 3]


def test_stages_switch_at_the_configured_steps(tmp_path):
  teacher = tiny('teacher')
  teacher.teacher.num_steps = 1000  # the stages need a final teacher, not a good one
  train_and_evaluate(teacher, str(tmp_path / 'teacher'))
  c = tiny('curriculum')
  c.student.teacher_workdir = str(tmp_path / 'teacher')
  c.student.curriculum.stage_steps = (500,)
  train_and_evaluate(c, str(tmp_path / 'student'))
  rows = metrics_log.read(str(tmp_path / 'student'))
  assert [r['curriculum_stage'] for r in rows] == [0, 0, 0, 1, 1]  # evals at 0, 250, ..., 1000
  # Stage 0 is an MSE on projected features, stage 1 a cross-entropy: different scales.
  assert rows[2]['train_loss'] < rows[1]['train_loss']

  c.student.curriculum.teacher_layers = (3,)
  with pytest.raises(ConfigError, match=r'teacher_layers: \[3\] out of range'):
    train_and_evaluate(c, str(tmp_path / 'bad'))
  assert not (tmp_path / 'bad').exists()


def test_stage_lengths_are_validated():
  c = tiny('curriculum')
  c.student.teacher_workdir = '/t'
  c.student.curriculum.stage_steps = (1_000,)
  with pytest.raises(ConfigError, match='leaving no output-distillation stage'):
    validate(c)
