"""The divergence vocabulary against numpy float64 formulas, and students trained with each."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdistill.distill import divergences
from pdistill.config import LOSS_DEFAULTS, ConfigError
from pdistill.data import tasks
from pdistill.metrics import log as metrics_log
from pdistill.storage import checkpoints, trajectory
from pdistill.train import train_and_evaluate
from crash_resume import crash_then_resume
from tiny_configs import tiny

KW = dict(LOSS_DEFAULTS['loss_kw'], beta=0.3, skew=0.2, t_start=0.2, t_end=0.9)
NUM_STEPS = 40


def np_log_softmax(z):
  z = z - z.max(-1, keepdims=True)
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_kl(a, b):
  a = np.broadcast_to(a, b.shape)
  safe = np.where(a > 0, a, 1.0)
  return np.sum(np.where(a > 0, a * (np.log(safe) - np.log(b)), 0.0), -1)


def np_teacher(t, temperature):
  if temperature == 0:
    return np.eye(t.shape[-1])[t.argmax(-1)]
  return np.exp(np_log_softmax(t / temperature))


def np_divergence(name, t, z, temperature, kw, step, frozen=None, num_steps=NUM_STEPS):
  """D per example; ``frozen``: the student logits taid's target is built from (held fixed)."""
  p, q = np_teacher(t, temperature), np.exp(np_log_softmax(z))
  if name == 'forward_kl':
    return np_kl(p, q)
  if name == 'reverse_kl':
    return np_kl(q, p)
  if name == 'jsd':
    m = kw['beta'] * p + (1 - kw['beta']) * q
    return kw['beta'] * np_kl(p, m) + (1 - kw['beta']) * np_kl(q, m)
  if name == 'skew_forward_kl':
    return np_kl(p, kw['skew'] * p + (1 - kw['skew']) * q)
  if name == 'skew_reverse_kl':
    return np_kl(q, kw['skew'] * q + (1 - kw['skew']) * p)
  if name == 'tvd':
    return 0.5 * np.abs(p - q).sum(-1)
  if name == 'adaptive_kl':
    order = np.argsort(-p, -1)
    sp = np.take_along_axis(p, order, -1)
    gap = np.abs(sp - np.take_along_axis(q if frozen is None else
                                         np.exp(np_log_softmax(frozen)), order, -1))
    head = np.cumsum(sp, -1) <= 0.5
    head[..., 0] = True
    w = (gap * head).sum(-1) / gap.sum(-1)
    return w * np_kl(p, q) + (1 - w) * np_kl(q, p)
  if name == 'taid':
    tt = kw['t_start'] + (kw['t_end'] - kw['t_start']) * step / num_steps
    r = np.exp(np_log_softmax((1 - tt) * (z if frozen is None else frozen) +
                              tt * t / temperature))
    return np_kl(r, q)
  raise AssertionError(name)


def np_loss(name, t, z, y, w, alpha, temperature, kw, step, frozen=None, num_steps=NUM_STEPS):
  """The logged loss: alpha CE + (1 - alpha) D; forward_kl in its cross-entropy form."""
  if name == 'forward_kl':
    p = np_teacher(t, temperature)
    d = -np.sum(p * np_log_softmax(z), -1)
  else:
    d = np_divergence(name, t, z, temperature, kw, step, frozen, num_steps)
  ce = -np.take_along_axis(np_log_softmax(z), y[..., None], -1)[..., 0]
  per = alpha * ce + (1 - alpha) * d
  return (per * w).sum() / w.sum()


def np_grad(name, t, z, y, w, alpha, temperature, kw, step, num_steps=NUM_STEPS):
  """Central differences in float64 (taid's target held at the unperturbed logits)."""
  g, eps = np.zeros_like(z), 1e-6
  for i in np.ndindex(z.shape):
    up, down = z.copy(), z.copy()
    up[i] += eps
    down[i] -= eps
    g[i] = (np_loss(name, t, up, y, w, alpha, temperature, kw, step, z, num_steps) -
            np_loss(name, t, down, y, w, alpha, temperature, kw, step, z, num_steps)) / (2 * eps)
  return g


CASES = [(name, temperature, alpha, shape)
         for name in divergences.NAMES
         for temperature in (0.0, 0.5, 2.0)
         for alpha, shape in ((0.0, (5, 4)), (0.3, (2, 3, 4)))
         if not (temperature == 0 and name in ('reverse_kl', 'taid', 'adaptive_kl'))]


@pytest.mark.parametrize('name,temperature,alpha,shape', CASES)
def test_each_divergence_value_and_gradient_match_numpy(name, temperature, alpha, shape):
  rng = np.random.default_rng(hash((name, temperature, alpha)) % 2**32)
  t, z = 2 * rng.normal(size=shape), rng.normal(size=shape)
  y = rng.integers(0, shape[-1], shape[:-1])
  w = rng.integers(0, 2, shape[:-1]).astype(np.float64)
  w.flat[0] = 1
  step = 13
  objective = divergences.Objective(name, alpha=alpha, temperature=temperature, kw=KW,
                                    num_steps=NUM_STEPS)
  with jax.enable_x64(True):
    fn = lambda zz: objective.loss(zz, jnp.asarray(y), jnp.asarray(t), jnp.asarray(w),
                                   jnp.asarray(step), objective.init_state())[0]
    value, grad = jax.value_and_grad(fn)(jnp.asarray(z))
  np.testing.assert_allclose(value, np_loss(name, t, z, y, w, alpha, temperature, KW, step),
                             rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(grad, np_grad(name, t, z, y, w, alpha, temperature, KW, step),
                             rtol=1e-5, atol=1e-8)


def _logits(shape=(6, 5), seed=0):
  rng = np.random.default_rng(seed)
  return 2 * rng.normal(size=shape), rng.normal(size=shape)


def test_jsd_at_half_is_symmetric():
  t, z = _logits()
  with jax.enable_x64(True):
    ab = divergences.divergence('jsd', t, z, 1.0, dict(beta=0.5))
    ba = divergences.divergence('jsd', z, t, 1.0, dict(beta=0.5))
  np.testing.assert_allclose(ab, ba, rtol=1e-12)
  assert np.all(np.asarray(ab) <= np.log(2) + 1e-12)


@pytest.mark.parametrize('skewed,plain', [('skew_forward_kl', 'forward_kl'),
                                          ('skew_reverse_kl', 'reverse_kl')])
def test_skew_zero_is_the_plain_kl(skewed, plain):
  t, z = _logits(seed=1)
  with jax.enable_x64(True):
    got = divergences.divergence(skewed, t, z, 1.5, dict(skew=0.0))
    want = divergences.divergence(plain, t, z, 1.5)
  np.testing.assert_allclose(got, want, rtol=1e-12)


def test_taid_at_t_one_is_forward_kl():
  """Same gradient; its value is KL(p || q), forward_kl's logged cross-entropy form less H(p)."""
  t, z = _logits(seed=2)
  y = np.zeros(6, int)
  kw = dict(KW, t_start=1.0, t_end=1.0)
  with jax.enable_x64(True):
    def loss(name, zz):
      objective = divergences.Objective(name, alpha=0.0, temperature=2.0, kw=kw,
                                        num_steps=NUM_STEPS)
      return objective.loss(zz, y, jnp.asarray(t), None, jnp.asarray(5))[0]
    taid, g_taid = jax.value_and_grad(lambda zz: loss('taid', zz))(jnp.asarray(z))
    fkl, g_fkl = jax.value_and_grad(lambda zz: loss('forward_kl', zz))(jnp.asarray(z))
  p = np_teacher(t, 2.0)
  entropy = -(p * np.log(p)).sum(-1).mean()
  np.testing.assert_allclose(g_taid, g_fkl, rtol=1e-10, atol=1e-14)
  np.testing.assert_allclose(np.asarray(taid), np.asarray(fkl) - entropy, rtol=1e-10)


def test_adaptive_taid_follows_the_papers_rule():
  """The state after each update against a numpy replay of the momentum rule."""
  kw = dict(KW, t_schedule='adaptive', t_step_size=0.05, t_momentum=0.9)
  objective = divergences.Objective('taid', alpha=0.0, temperature=1.0, kw=kw, num_steps=20)
  rng = np.random.default_rng(3)
  state = objective.init_state()
  t_np, m_np, prev = kw['t_start'], 0.0, None
  with jax.enable_x64(True):
    for step in range(8):
      t, z = 2 * rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
      value, state = objective.loss(jnp.asarray(z), np.zeros(4, int), jnp.asarray(t), None,
                                    jnp.asarray(step), state)
      r = np.exp(np_log_softmax((1 - t_np) * z + t_np * t))
      j = np_kl(r, np.exp(np_log_softmax(z))).mean()
      np.testing.assert_allclose(value, j, rtol=1e-5)
      delta = 0.0 if prev is None else (prev - j) / (prev + 1e-8)
      m_np = 0.9 * m_np + 0.1 * delta
      linear = kw['t_start'] + (kw['t_end'] - kw['t_start']) * (step + 1) / 20
      t_np = min(kw['t_end'], max(linear, t_np + 0.05 / (1 + np.exp(-m_np)) * (1 - t_np)))
      prev = j
      np.testing.assert_allclose(state['t'], t_np, rtol=1e-5)
      np.testing.assert_allclose(state['momentum'], m_np, rtol=1e-4, atol=1e-7)


def test_unknown_loss_names_the_valid_ones():
  c = tiny('one_shot')
  c.student.loss = 'kl'
  with pytest.raises(ConfigError, match=r"student.loss: 'kl' is not one of \('forward_kl'"):
    divergences.check(c.student)


def test_an_unknown_knob_is_named():
  c = tiny('one_shot')
  c.student.loss_kw.update(betta=0.3)  # ConfigDict.update accepts any key, as pdistill.fit's
  with pytest.raises(ConfigError, match=r'student.loss_kw.betta: is not a divergence knob'):
    divergences.check(c.student)


@pytest.mark.parametrize('loss', ['reverse_kl', 'taid', 'adaptive_kl'])
def test_a_hard_teacher_is_refused_where_the_divergence_needs_soft_targets(loss):
  c = tiny('one_shot')
  c.student.update(loss=loss, temperature=0.0)
  with pytest.raises(ConfigError, match='student.temperature: is 0'):
    divergences.check(c.student)


def test_adaptive_kl_with_a_one_class_head_is_the_mean_of_both_kls():
  """Probability moves between head and tail only, so with one class in the head the gap
  splits evenly between them (w_head = 1/2), as for any teacher above 0.5 on one class."""
  t, z = _logits(seed=5)
  t[:, 0] += 10  # the teacher's top class alone reaches the head's 0.5
  with jax.enable_x64(True):
    got = divergences.divergence('adaptive_kl', t, z, 1.0)
    mean = (divergences.divergence('forward_kl', t, z, 1.0) +
            divergences.divergence('reverse_kl', t, z, 1.0)) / 2
    np.testing.assert_allclose(got, mean, rtol=1e-12)


def test_diagnostics_match_numpy():
  t, z = _logits(seed=4)
  w = np.array([1, 1, 0, 1, 0, 1], np.float64)
  with jax.enable_x64(True):
    got = divergences.diagnostics(jnp.asarray(z), jnp.asarray(t), jnp.asarray(w))
  p, q = np.exp(np_log_softmax(t)), np.exp(np_log_softmax(z))
  mean = lambda v: (v * w).sum() / w.sum()
  np.testing.assert_allclose(got['kl_forward'], mean(np_kl(p, q)), rtol=1e-10)
  np.testing.assert_allclose(got['kl_reverse'], mean(np_kl(q, p)), rtol=1e-10)
  np.testing.assert_allclose(got['teacher_entropy'], mean(-(p * np.log(p)).sum(-1)), rtol=1e-10)
  np.testing.assert_allclose(got['teacher_agreement'],
                             mean(z.argmax(-1) == t.argmax(-1)), rtol=1e-12)


# --- students trained with each loss, replayed in numpy ------------------------------------

STUDENT_STEPS = 60


@pytest.fixture(scope='module')
def teacher_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  train_and_evaluate(tiny('teacher'), workdir)
  return workdir


def _np_mlp(params, x):
  w1, b1 = params['Dense_0']['kernel'], params['Dense_0']['bias']
  w2, b2 = params['Dense_1']['kernel'], params['Dense_1']['bias']
  h = np.maximum(x @ w1 + b1, 0)
  return h, h @ w2 + b2


def _numpy_replay(c, teacher_params, params, lr):
  """Plain SGD, step by step in float64, on the run's own batches."""
  task = tasks.build(c.data, c.student.batch_size)
  params = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  kw = c.student.loss_kw.to_dict()
  for step in range(STUDENT_STEPS):
    batch = task.batch(c.seed, step)
    x, y = batch['inputs'].astype(np.float64), batch['labels']
    _, t = _np_mlp(teacher_params, x)
    h, z = _np_mlp(params, x)
    g = np_grad(c.student.loss, t, z, y, np.ones(len(y)), c.student.alpha,
                c.student.temperature, kw, step, c.student.num_steps)
    dh = (g @ params['Dense_1']['kernel'].T) * (h > 0)
    params = {'Dense_0': {'kernel': params['Dense_0']['kernel'] - lr * x.T @ dh,
                          'bias': params['Dense_0']['bias'] - lr * dh.sum(0)},
              'Dense_1': {'kernel': params['Dense_1']['kernel'] - lr * h.T @ g,
                          'bias': params['Dense_1']['bias'] - lr * g.sum(0)}}
  return params


@pytest.mark.parametrize('loss', divergences.NAMES)
def test_a_one_shot_student_equals_a_numpy_replay_of_its_sgd(loss, teacher_dir, tmp_path):
  c = tiny('one_shot')
  c.student.update(loss=loss, teacher_workdir=teacher_dir, num_steps=STUDENT_STEPS,
                   trajectory_every_steps=STUDENT_STEPS, alpha=0.25, temperature=1.5)
  c.student.optim.update(lr_schedule='constant', warmup_frac=0.0, learning_rate=0.05)
  c.loop.update(chunk_steps=20, eval_every_steps=20, checkpoint_every_steps=20)
  workdir = str(tmp_path / loss)
  train_and_evaluate(c, workdir)
  final = jax.tree.map(np.asarray, trajectory.load_params(workdir, STUDENT_STEPS))
  start = jax.tree.map(np.asarray, trajectory.load_params(workdir, 0))
  teacher = jax.tree.map(lambda a: np.asarray(a, np.float64),
                         trajectory.load_params(teacher_dir, c.teacher.num_steps))
  expected = _numpy_replay(c, teacher, start, 0.05)
  for layer in expected:
    for name in expected[layer]:
      np.testing.assert_allclose(final[layer][name], expected[layer][name], rtol=2e-4,
                                 atol=2e-5, err_msg=f'{loss}: {layer}.{name}')


@pytest.mark.slow
@pytest.mark.parametrize('t_schedule', ['linear', 'adaptive'])
def test_a_resumed_taid_student_equals_an_uninterrupted_one(t_schedule, teacher_dir, tmp_path,
                                                            monkeypatch):
  """Adaptive TAID's t, momentum and previous loss resume with the train state.  Batches of
  32: at batch 1 the relative loss change is so noisy that the momentum stays negative and t
  follows the linear schedule (measured)."""
  c = tiny('progressive')
  c.student.update(loss='taid', teacher_workdir=teacher_dir, trajectory_every_steps=1_000,
                   batch_size=32)
  c.student.loss_kw.update(t_schedule=t_schedule, t_step_size=0.01)
  whole, crashed = str(tmp_path / 'whole'), str(tmp_path / 'crashed')
  train_and_evaluate(c, whole)
  crash_then_resume(c, crashed, monkeypatch, crash_step=750)  # after the 500 checkpoint
  assert metrics_log.read(crashed) == metrics_log.read(whole)
  for a, b in zip(jax.tree.leaves(trajectory.load_params(whole, 1_000)),
                  jax.tree.leaves(trajectory.load_params(crashed, 1_000))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  if t_schedule == 'adaptive':  # the state resumed from was well ahead of the linear t
    state, _ = checkpoints.load_state(crashed, 500)
    assert float(state['loss_state']['t']) > 0.4 + 0.6 * 500 / 1_000 + 0.1
