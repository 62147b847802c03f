import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdistill.distill import schedules
from pdistill import steps
from pdistill.engine import next_stop


def test_manual_schedule_positions():
  s = schedules.manual([300, 600, -1], [100, 50], final_step=1000)
  assert s.teacher_steps == (300, 600, 1000)
  assert s.starts == (0, 100, 150)
  expected = {0: 0, 99: 0, 100: 1, 149: 1, 150: 2, 10**6: 2}
  position = jax.jit(steps.position_in_jit)
  for step, pos in expected.items():
    assert s.position(step) == pos
    assert int(position(jnp.asarray(s.starts), step)) == pos
  # The training loop stops a chunk at every switch, so no chunk straddles two teachers.
  stop = lambda step: next_stop(step, 10**6, [], list(s.starts))
  assert stop(0) == 100 and stop(100) == 150 and stop(150) == 10**6


def test_one_shot_uses_final_everywhere():
  s = schedules.one_shot(777)
  assert s.teacher_steps == (777,) and s.position(123456) == 0


@pytest.mark.parametrize('multiplier', [1.0, 2.0, 0.5, 3.0, 0.3])
def test_multiplier_rule_matches_brute_force(multiplier):
  saved = [0, 100, 200, 300, 400, 500]
  s = schedules.multiplier_rule(saved, multiplier, num_student_steps=400)
  for step in range(400):
    at_or_after = [t for t in saved if t >= step * multiplier - 1e-9]
    expected = at_or_after[0] if at_or_after else saved[-1]
    assert s.teacher_steps[s.position(step)] == expected, step


def test_stacked_params_are_indexed_by_position_inside_jit():
  stack = {'w': jnp.arange(3.0)[:, None] * jnp.ones((3, 4))}
  starts = jnp.asarray([0, 10, 20])

  @jax.jit
  def pick(stack, step):
    return stack['w'][steps.position_in_jit(starts, step)]

  np.testing.assert_array_equal(pick(stack, 15), np.ones(4))
  np.testing.assert_array_equal(pick(stack, 25), 2 * np.ones(4))
  assert pick._cache_size() == 1  # one compilation serves every step and teacher


def test_bad_manual_schedule_is_rejected():
  with pytest.raises(ValueError, match='one entry per checkpoint'):
    schedules.manual([100, -1], [], final_step=1000)
