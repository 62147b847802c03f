"""What a student minimises: the owner of the divergence vocabulary (``student.loss``).

With the teacher's distribution p = softmax(z_T / temperature) (its one-hot argmax at
temperature 0: the temperature softens the teacher only) and the student's q = softmax(z_S),
a distilled student's per-example loss is

    alpha * CE(labels, q) + (1 - alpha) * D(p, q),

averaged over the examples (and positions) that count.  D is named by ``student.loss``; each
entry of ``DIVERGENCES`` states its formula and which ``student.loss_kw`` fields it reads.
Names follow the direction of the KL they use, KL(a || b) = sum a log(a / b), because peers
disagree on what "beta = 0" or "reverse" means.

* ``forward_kl``: KL(p || q).  A student's logged loss is its cross-entropy form
  -sum p log q (KL(p || q) + H(p): the same gradient), as pdistill has always logged it;
  ``divergence`` gives KL(p || q) itself.
* ``reverse_kl``: KL(q || p).  Infinite against a one-hot teacher: refused at temperature 0.
* ``jsd``: with m = beta p + (1 - beta) q, beta KL(p || m) + (1 - beta) KL(q || m); beta = 0.5
  is the Jensen-Shannon divergence.
* ``skew_forward_kl``: KL(p || skew p + (1 - skew) q); ``skew_reverse_kl``:
  KL(q || skew q + (1 - skew) p) (DistiLLM, Ko et al. 2024).  skew = 0 gives the plain KL.
* ``tvd``: 0.5 sum |p - q|.
* ``adaptive_kl`` (AKL, Wu et al., COLING 2025, arXiv 2404.02657): w_head KL(p || q) +
  w_tail KL(q || p).  The head is the teacher's top classes up to a cumulative probability of
  0.5 (its top class always), the tail the rest; with g = |p - sg(q)|, w_head = sum_head g /
  sum g and w_tail = 1 - w_head (weights of the current gap, taken as constants).  Refused at
  temperature 0, where the reverse KL is infinite.
* ``taid`` (Shing et al., ICLR 2025, arXiv 2501.16937): KL(r_t || q) towards the interpolated
  target r_t = softmax((1 - t) stop_gradient(z_S) + t z_T / temperature), temperature > 0.
  ``t_schedule='linear'``: at the update made from step s (0 .. num_steps - 1),
  t = t_start + (t_end - t_start) s / num_steps.  ``t_schedule='adaptive'``: the paper's
  momentum rule (its Algorithm 1): after the update from step s with loss J_s,
  delta = (J_{s-1} - J_s) / (J_{s-1} + eps), m = t_momentum m + (1 - t_momentum) delta, and
  t <- min(t_end, max(linear t of step s + 1, t + t_step_size sigmoid(m) (1 - t))); t, m and
  J_{s-1} live in the train state (``TrainState.loss_state``), so resume stays exact.

A CE student (no teacher) minimises CE(labels, q) alone: ``objective`` builds either.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from pdistill import losses
from pdistill.config import ConfigError

T_SCHEDULES = ('linear', 'adaptive')
_EPS = 1e-8  # the adaptive TAID rule's guard against a zero previous loss


def teacher_log_probs(teacher_logits: jax.Array, temperature: float) -> jax.Array:
  """log p: the teacher's log-probabilities at ``temperature`` (0: its one-hot argmax, whose
  zero entries get log 0 = -inf)."""
  if temperature == 0:
    hot = losses.teacher_targets(teacher_logits, 0)
    return jnp.where(hot > 0, 0.0, -jnp.inf).astype(teacher_logits.dtype)
  return jax.nn.log_softmax(teacher_logits / temperature)


def kl(log_a: jax.Array, log_b: jax.Array) -> jax.Array:
  """KL(a || b) = sum a (log a - log b) over the last axis, from log-probabilities; terms
  with a = 0 count 0 (and pass no NaN into gradients)."""
  a = jnp.exp(log_a)
  present = a > 0
  terms = a * (jnp.where(present, log_a, 0.0) - jnp.where(present, log_b, 0.0))
  return jnp.sum(jnp.where(present, terms, 0.0), axis=-1)


def _mix(weight: float, log_a: jax.Array, log_b: jax.Array) -> jax.Array:
  """log(weight a + (1 - weight) b)."""
  if weight == 0:
    return log_b
  if weight == 1:
    return log_a
  return jnp.logaddexp(jnp.log(weight) + log_a, jnp.log1p(-weight) + log_b)


# Each divergence: (log p, log q, logits z_S, teacher logits, temperature, loss_kw, t) -> D per
# example.  Only taid reads the logits and t.
def _forward_kl(log_p, log_q, *_):
  return kl(log_p, log_q)


def _reverse_kl(log_p, log_q, *_):
  return kl(log_q, log_p)


def _jsd(log_p, log_q, logits, teacher_logits, temperature, kw, t):
  beta = kw['beta']
  log_m = _mix(beta, log_p, log_q)
  return beta * kl(log_p, log_m) + (1 - beta) * kl(log_q, log_m)


def _skew_forward_kl(log_p, log_q, logits, teacher_logits, temperature, kw, t):
  return kl(log_p, _mix(kw['skew'], log_p, log_q))


def _skew_reverse_kl(log_p, log_q, logits, teacher_logits, temperature, kw, t):
  return kl(log_q, _mix(kw['skew'], log_q, log_p))


def _tvd(log_p, log_q, *_):
  return 0.5 * jnp.sum(jnp.abs(jnp.exp(log_p) - jnp.exp(log_q)), axis=-1)


_AKL_HEAD = 0.5  # the teacher's cumulative probability the head covers (the paper's mu)


def _adaptive_kl(log_p, log_q, *_):
  p, q = jnp.exp(log_p), jax.lax.stop_gradient(jnp.exp(log_q))
  order = jnp.argsort(-p, axis=-1)
  sorted_p = jnp.take_along_axis(p, order, -1)
  gap = jnp.abs(sorted_p - jnp.take_along_axis(q, order, -1))
  head = jnp.cumsum(sorted_p, -1) <= _AKL_HEAD
  head = head.at[..., 0].set(True)
  total = jnp.maximum(jnp.sum(gap, -1), 1e-12)
  w_head = jnp.sum(jnp.where(head, gap, 0.0), -1) / total
  return w_head * kl(log_p, log_q) + (1 - w_head) * kl(log_q, log_p)


def _taid(log_p, log_q, logits, teacher_logits, temperature, kw, t):
  mixed = (1 - t) * jax.lax.stop_gradient(logits) + t * teacher_logits / temperature
  return kl(jax.nn.log_softmax(mixed), log_q)


def _refuse_hard_teacher(name: str, why: str):
  def check(student, field: str) -> None:
    if student.temperature == 0:
      raise ConfigError('student.temperature', f'is 0 (the teacher\'s one-hot argmax), but '
                        f'{field}={name!r} {why}; set a temperature > 0 (e.g. 1.0)')
  return check


def _in_range(key: str, low: float, high: float, *, low_open: bool, high_open: bool):
  def check(student, field: str) -> None:
    value = student.loss_kw[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        (low < value if low_open else low <= value) and
        (value < high if high_open else value <= high))
    if not ok:
      interval = f'{"(" if low_open else "["}{low:g}, {high:g}{")" if high_open else "]"}'
      raise ConfigError(f'student.loss_kw.{key}', f'must be in {interval} for '
                        f'{field}={student.loss!r}, got {value!r}')
  return check


def _check_skew_reverse(student, field: str) -> None:
  _in_range('skew', 0, 1, low_open=False, high_open=True)(student, field)
  if student.temperature == 0 and student.loss_kw.skew == 0:
    raise ConfigError('student.loss_kw.skew', "is 0 at temperature 0: KL(q || p) against a "
                      'one-hot teacher is infinite; set skew > 0 or a temperature > 0')


def _check_taid(student, field: str) -> None:
  _refuse_hard_teacher('taid', 'interpolates the teacher\'s logits / temperature')(student, field)
  kw = student.loss_kw
  _in_range('t_start', 0, 1, low_open=False, high_open=False)(student, field)
  _in_range('t_end', 0, 1, low_open=True, high_open=False)(student, field)
  if kw.t_start > kw.t_end:
    raise ConfigError('student.loss_kw.t_start', f'{kw.t_start!r} is above t_end={kw.t_end!r}: '
                      't moves from t_start up to t_end')
  if kw.t_schedule not in T_SCHEDULES:
    raise ConfigError('student.loss_kw.t_schedule',
                      f'{kw.t_schedule!r} is not one of {T_SCHEDULES}')
  if kw.t_schedule == 'adaptive':
    _in_range('t_step_size', 0, 1, low_open=False, high_open=False)(student, field)
    _in_range('t_momentum', 0, 1, low_open=False, high_open=True)(student, field)


def _no_check(student, field: str) -> None:
  del student, field


@dataclasses.dataclass(frozen=True)
class Divergence:
  """One entry of the vocabulary: D per example, and the check of its config."""

  name: str
  per_example: Callable
  check: Callable  # (student section, field name) -> None, or ConfigError
  loss_kw: tuple[str, ...] = ()  # the student.loss_kw fields it reads


DIVERGENCES = {d.name: d for d in (
    Divergence('forward_kl', _forward_kl, _no_check),
    Divergence('reverse_kl', _reverse_kl,
               _refuse_hard_teacher('reverse_kl', 'is infinite against a one-hot teacher')),
    Divergence('jsd', _jsd, _in_range('beta', 0, 1, low_open=True, high_open=True), ('beta',)),
    Divergence('skew_forward_kl', _skew_forward_kl,
               _in_range('skew', 0, 1, low_open=False, high_open=True), ('skew',)),
    Divergence('skew_reverse_kl', _skew_reverse_kl, _check_skew_reverse, ('skew',)),
    Divergence('tvd', _tvd, _no_check),
    Divergence('adaptive_kl', _adaptive_kl,
               _refuse_hard_teacher('adaptive_kl', 'weighs in KL(q || p), infinite against a '
                                    'one-hot teacher')),
    Divergence('taid', _taid, _check_taid,
               ('t_start', 't_end', 't_schedule', 't_step_size', 't_momentum')),
)}
NAMES = tuple(DIVERGENCES)


def check(student, field: str = 'student.loss') -> None:
  """Checks a student section's ``loss`` and the ``loss_kw`` fields it reads (ConfigError)."""
  name = student.get('loss', 'forward_kl')
  if name not in DIVERGENCES:
    raise ConfigError(field.removeprefix('config.'), f'{name!r} is not one of {NAMES}')
  known = {k for d in DIVERGENCES.values() for k in d.loss_kw}
  unknown = sorted(set(student.get('loss_kw') or {}) - known)
  if unknown:
    raise ConfigError(f'student.loss_kw.{unknown[0]}', f'is not a divergence knob; the knobs '
                      f'are {tuple(sorted(known))}')
  DIVERGENCES[name].check(student, field)


def divergence(name: str, teacher_logits, logits, temperature: float, kw: dict | None = None,
               t=1.0) -> jax.Array:
  """D(p, q) per example (and position) of ``name`` (see the module's docstring)."""
  log_p = teacher_log_probs(teacher_logits, temperature)
  log_q = jax.nn.log_softmax(logits)
  return DIVERGENCES[name].per_example(log_p, log_q, logits, teacher_logits, temperature,
                                       kw or {}, t)


@dataclasses.dataclass(frozen=True)
class Objective:
  """A student's loss on its logits, built once from its config section (``objective``).

  ``loss(logits, labels, teacher_logits, weights, step, loss_state) -> (value, loss_state)``:
  ``step`` is the step the update is made from (read by taid), ``loss_state`` what the
  loss carries from step to step (the adaptive taid rule's; ``init_state()`` otherwise {}).
  """

  name: str  # 'cross_entropy' (no teacher) or a divergence
  alpha: float = 1.0
  temperature: float = 1.0
  kw: dict = dataclasses.field(default_factory=dict)
  num_steps: int = 1

  @property
  def distills(self) -> bool:
    return self.name != 'cross_entropy'

  @property
  def reads_step(self) -> bool:
    """Whether a step's loss depends on the step's number (batches then carry ``step``)."""
    return self.name == 'taid'

  @property
  def stateful(self) -> bool:
    """Whether the loss carries state between steps: such a loss runs step by step."""
    return self.name == 'taid' and self.kw.get('t_schedule') == 'adaptive'

  def init_state(self) -> dict:
    if not self.stateful:
      return {}
    return {'t': jnp.asarray(self.kw['t_start'], jnp.float32),
            'momentum': jnp.zeros((), jnp.float32),
            'previous': -jnp.ones((), jnp.float32)}  # no previous loss yet

  def linear_t(self, step):
    start, end = self.kw['t_start'], self.kw['t_end']
    return start + (end - start) * jnp.asarray(step) / self.num_steps

  def loss(self, logits, labels, teacher_logits=None, weights=None, step=None,
           loss_state=None):
    loss_state = {} if loss_state is None else loss_state
    if not self.distills:
      return losses.cross_entropy(logits, labels, weights), loss_state
    if self.name == 'forward_kl':  # the cross-entropy form, computed as pdistill always has
      value = losses.distillation_loss(logits, labels, teacher_logits, alpha=self.alpha,
                                       temperature=self.temperature, weights=weights)
      return value, loss_state
    t = 1.0
    if self.name == 'taid':
      t = loss_state['t'] if self.stateful else self.linear_t(step)
    d = losses.weighted_mean(
        divergence(self.name, teacher_logits, logits, self.temperature, self.kw, t), weights)
    if self.stateful:
      loss_state = self._adapt(loss_state, jax.lax.stop_gradient(d), step)
    if self.alpha == 0:
      return d, loss_state
    return self.alpha * losses.cross_entropy(logits, labels, weights) + (1 - self.alpha) * d, \
        loss_state

  def _adapt(self, state: dict, value, step) -> dict:
    previous = state['previous']
    delta = jnp.where(previous < 0, 0.0, (previous - value) / (previous + _EPS))
    beta = self.kw['t_momentum']
    momentum = beta * state['momentum'] + (1 - beta) * delta
    t = state['t']
    grown = t + self.kw['t_step_size'] * jax.nn.sigmoid(momentum) * (1 - t)
    t = jnp.minimum(self.kw['t_end'], jnp.maximum(self.linear_t(step + 1), grown))
    return {'t': t.astype(jnp.float32), 'momentum': momentum.astype(jnp.float32),
            'previous': value.astype(jnp.float32)}


def objective(student, *, distill: bool) -> Objective:
  """The objective of a student section (``config.student``, or a dict of its fields):
  cross-entropy on the labels, or ``student.loss`` against the teacher."""
  if not distill:
    return Objective('cross_entropy')
  kw = student.get('loss_kw') or {}
  kw = kw.to_dict() if hasattr(kw, 'to_dict') else dict(kw)
  return Objective(student.get('loss', 'forward_kl'), alpha=float(student.get('alpha', 1.0)),
                   temperature=float(student.get('temperature', 1.0)), kw=kw,
                   num_steps=int(student.get('num_steps', 1)))


DIAGNOSTICS = ('kl_forward', 'kl_reverse', 'teacher_entropy', 'teacher_agreement')


def diagnostics(logits, teacher_logits, weights=None) -> dict:
  """How a student stands to its teacher, at temperature 1 (the models' own distributions):
  KL(p || q), KL(q || p), the teacher's entropy H(p), and top-1 agreement."""
  log_p, log_q = jax.nn.log_softmax(teacher_logits), jax.nn.log_softmax(logits)
  agree = (jnp.argmax(logits, -1) == jnp.argmax(teacher_logits, -1)).astype(jnp.float32)
  return {'kl_forward': losses.weighted_mean(kl(log_p, log_q), weights),
          'kl_reverse': losses.weighted_mean(kl(log_q, log_p), weights),
          'teacher_entropy': losses.weighted_mean(kl(log_p, jnp.zeros_like(log_p)) * -1,
                                                  weights),
          'teacher_agreement': losses.weighted_mean(agree, weights)}
