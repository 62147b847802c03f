"""End-to-end training on tiny parity problems: learning, students, resume, devices."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdistill import models, optimizers, steps
from pdistill.distill import divergences
from pdistill.distill import teacher as teacher_lib
from pdistill.config import ConfigError
from pdistill.engine import Diverged
from pdistill.data import tasks
from pdistill.metrics import log as metrics_log
from pdistill.parallel import mesh as mesh_lib
from pdistill.storage import checkpoints, trajectory
from pdistill.train import train_and_evaluate
from crash_resume import crash_then_resume
from tiny_configs import REPO, tiny


@pytest.fixture(scope='module')
def teacher_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('teacher'))
  train_and_evaluate(tiny('teacher'), workdir)
  return workdir


def student(method, teacher_dir, **loop):
  c = tiny(method, **loop)
  c.student.teacher_workdir = teacher_dir
  return c


def final_params(workdir, step):
  return jax.tree.map(np.asarray, trajectory.load_params(workdir, step))


def test_teacher_learns_and_writes_its_trajectory(teacher_dir):
  rows = metrics_log.read(teacher_dir)
  assert [r['step'] for r in rows] == list(range(0, 3001, 250))
  assert rows[0]['eval_accuracy'] < 0.7 and rows[-1]['eval_accuracy'] > 0.95
  assert trajectory.saved_steps(teacher_dir) == list(range(0, 3001, 500))
  traj = trajectory.read_metrics(teacher_dir)
  assert traj[-1]['eval_accuracy'] == rows[-1]['eval_accuracy']
  assert os.listdir(os.path.join(teacher_dir, 'tensorboard'))


@pytest.mark.parametrize('method', ['ce', 'one_shot', 'progressive', 'curriculum'])
def test_each_student_method_learns(teacher_dir, tmp_path, method):
  c = student(method, teacher_dir)
  c.student.model.hidden = (64,)
  c.student.num_steps = 3000
  final = train_and_evaluate(c, str(tmp_path))
  rows = metrics_log.read(str(tmp_path))
  assert final['step'] == 3000 and final['eval_accuracy'] > 0.9, rows[-1]
  if method == 'progressive':
    used = {r['step']: r['teacher_step'] for r in rows if r['step'] > 0}
    assert used[250] == 1000 and used[500] == 3000  # switch after 300 student steps


def test_a_pipeline_given_a_teacher_trains_only_students(teacher_dir, tmp_path):
  c = student('pipeline', teacher_dir)
  c.pipeline_methods = ('progressive:1000x300',)
  c.student.num_steps = 500
  results = train_and_evaluate(c, str(tmp_path))
  assert sorted(results) == ['progressive_1000_300/seed_0']
  assert sorted(os.listdir(tmp_path)) == ['comparison.md', 'comparison.png',
                                          'progressive_1000_300']
  used = {r['step']: r['teacher_step'] for r in metrics_log.read(
      str(tmp_path / 'progressive_1000_300' / 'seed_0')) if r['step'] > 0}
  assert used[250] == 1000 and used[500] == 3000  # the given teacher's checkpoints


def all_finite(tree):
  return all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(tree))


def test_a_diverging_run_stops_before_writing_anything_non_finite(tmp_path):
  c = tiny('teacher')
  c.teacher.optim.learning_rate = 1e30
  with pytest.raises(Diverged, match=r'diverged at step 250: eval_loss.* No checkpoint'):
    train_and_evaluate(c, str(tmp_path / 'stopped'))
  rows = metrics_log.read(str(tmp_path / 'stopped'))
  assert [r['step'] for r in rows] == [0] and all(np.isfinite(list(rows[0].values())))
  assert trajectory.saved_steps(str(tmp_path / 'stopped')) == [0]
  # Opting out runs on; a student of that teacher refuses its non-finite checkpoints.
  c.loop.stop_on_nonfinite = False
  c.teacher.num_steps = 1000
  nan_teacher = str(tmp_path / 'nan_teacher')
  assert not np.isfinite(train_and_evaluate(c, nan_teacher)['eval_loss'])
  with pytest.raises(ConfigError, match='teacher checkpoint of step 1000 .* non-finite'):
    train_and_evaluate(student('progressive', nan_teacher), str(tmp_path / 'student'))


def damage(folder):
  """Overwrites 64 bytes in the middle of the largest file under ``folder``."""
  files = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs]
  target = max(files, key=os.path.getsize)
  with open(target, 'r+b') as f:
    f.seek(os.path.getsize(target) // 2)
    f.write(np.random.default_rng(0).bytes(64))


def test_a_damaged_checkpoint_falls_back_to_the_previous_one(teacher_dir, tmp_path, caplog):
  workdir = str(tmp_path / 'teacher')
  shutil.copytree(teacher_dir, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2500', '3000']
  expected = final_params(teacher_dir, 3000)
  damage(os.path.join(workdir, 'checkpoints', '3000'))
  shutil.rmtree(os.path.join(workdir, 'trajectory', '3000'))  # so the rerun has work to do
  train_and_evaluate(tiny('teacher'), workdir)
  assert 'checkpoints step 3000' in caplog.text and 'trying the previous' in caplog.text
  jax.tree.map(np.testing.assert_array_equal, final_params(workdir, 3000), expected)
  # moved aside, not deleted: another version of pdistill may still read it
  assert os.path.isdir(os.path.join(workdir, 'checkpoints', '3000.unreadable'))


def test_a_run_whose_checkpoints_are_all_unreadable_does_not_start_over(teacher_dir, tmp_path):
  from pdistill.storage.run_lock import WorkdirError
  workdir = str(tmp_path / 'teacher')
  shutil.copytree(teacher_dir, workdir)
  for step in ('2500', '3000'):
    damage(os.path.join(workdir, 'checkpoints', step))
  shutil.rmtree(os.path.join(workdir, 'trajectory', '3000'))  # unfinished: it would resume
  records = metrics_log.read(workdir)
  with pytest.raises(WorkdirError, match='none of the checkpoints .* can be read .* nothing '
                     'changed'):
    train_and_evaluate(tiny('teacher'), workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2500', '3000']
  assert metrics_log.read(workdir) == records  # its history is kept


def test_a_checkpoint_saved_before_the_train_state_had_model_state_resumes(tmp_path):
  import flax.struct
  import optax
  from pdistill.storage.checkpoints import RunCheckpoints

  class OldTrainState(flax.struct.PyTreeNode):  # pdistill's TrainState before issue 14
    step: jax.Array
    params: dict
    opt_state: tuple

  tx = optax.sgd(0.1)
  params = {'w': jnp.arange(6.0).reshape(2, 3)}
  saved = RunCheckpoints(str(tmp_path))
  saved.save(7, OldTrainState(jnp.asarray(7, jnp.int32), params, tx.init(params)))
  saved.close()
  like = steps.create_state(jax.tree.map(jnp.zeros_like, params), tx)
  checkpoints = RunCheckpoints(str(tmp_path))
  restored, step = checkpoints.restore_newest_intact(like)
  checkpoints.close()
  assert step == 7 and int(restored.step) == 7 and restored.model_state == {}
  np.testing.assert_array_equal(restored.params['w'], params['w'])


def test_a_student_refuses_a_damaged_teacher_checkpoint(teacher_dir, tmp_path):
  damaged = str(tmp_path / 'teacher')
  shutil.copytree(teacher_dir, damaged)
  damage(os.path.join(damaged, 'trajectory', '3000'))
  with pytest.raises(ConfigError, match='trajectory step 3000'):
    train_and_evaluate(student('one_shot', damaged), str(tmp_path / 'student'))


def test_chunked_distillation_equals_a_per_step_loop(teacher_dir):
  """The chunk's precomputed teacher logits and schedule indexing match stepping one at a time."""
  c = student('progressive', teacher_dir)
  mesh = mesh_lib.make_mesh(1, jax.devices()[:1])
  task = tasks.build(c.data, 1)
  teacher = teacher_lib.load_teacher(c, task, mesh_lib.replicated(mesh))
  model = models.build(c.student.model, task)
  tx = optimizers.make_optimizer(c.student.optim, c.student.num_steps)
  state = steps.create_state(model.init(jax.random.key(0), jnp.zeros((1, 12)))['params'], tx)
  step_fn = steps.make_train_step(model.apply, tx,
                                   divergences.Objective('forward_kl', alpha=0.0))
  chunk = jax.jit(steps.make_chunk_fn(step_fn, task.batches,
                                      batch_sharding=mesh_lib.batch_sharded(mesh, 1),
                                      teacher_apply=teacher.apply))
  key = jax.random.key(3)
  starts = jnp.asarray(teacher.schedule.starts)
  chunked = state
  for begin, end in [(0, 300), (300, 400)]:  # the schedule switches teacher at step 300
    chunk_input = jax.tree.map(lambda a: a[0], task.chunk_input([3], begin, end - begin))
    chunked, _ = chunk(chunked, teacher.stack, starts, chunk_input, key, begin)

  batches = [task.batch(3, s) for s in range(400)]  # seed 3, steps 0..399

  @jax.jit
  def one_step(state, batch, t_vars):  # the teacher's logits and the step, for one batch
    batch = {**batch, steps.TEACHER_LOGITS: teacher.apply(t_vars, batch['inputs'])}
    return step_fn(state, batch, None)[0]

  looped = state
  for s in range(400):
    t_vars = jax.tree.map(lambda a: a[teacher.schedule.position(s)], teacher.stack)
    looped = one_step(looped, batches[s], t_vars)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
               chunked.params, looped.params)


def test_resume_after_a_crash_equals_uninterrupted(teacher_dir, tmp_path, monkeypatch):
  c = student('progressive', teacher_dir)
  c.student.trajectory_every_steps = 1000
  whole = str(tmp_path / 'whole')
  train_and_evaluate(c, whole)

  crashed = str(tmp_path / 'crashed')
  crash_then_resume(c, crashed, monkeypatch, crash_step=750)  # after the step-500 checkpoint

  jax.tree.map(np.testing.assert_array_equal, final_params(whole, 1000),
               final_params(crashed, 1000))
  assert metrics_log.read(whole) == metrics_log.read(crashed)


def _cli(workdir, *extra):
  return [sys.executable, '-m', 'pdistill.main',
          f'--config={os.path.join(REPO, "configs", "parity_mlp.py")}:teacher,smoke',
          '--config.data.n=12', '--config.data.k=2', '--config.teacher.model.hidden=(64,)',
          '--config.teacher.num_steps=40000', '--config.teacher.trajectory_every_steps=10000',
          '--config.loop.chunk_steps=500', '--config.loop.eval_every_steps=500',
          '--config.loop.checkpoint_every_steps=2000', f'--workdir={workdir}', *extra]


def test_killed_run_resumes_to_the_same_params(tmp_path):
  whole, killed = str(tmp_path / 'whole'), str(tmp_path / 'killed')
  subprocess.run(_cli(whole), check=True, capture_output=True)

  proc = subprocess.Popen(_cli(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  checkpoints = os.path.join(killed, 'checkpoints')
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None:
    if os.path.isdir(checkpoints) and any(d.isdigit() and int(d) >= 4000
                                          for d in os.listdir(checkpoints)):
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  rows = metrics_log.read(killed)
  assert rows and rows[-1]['step'] < 40000, 'the run finished before it could be killed'

  subprocess.run(_cli(killed), check=True, capture_output=True)
  jax.tree.map(np.testing.assert_array_equal, final_params(whole, 40000),
               final_params(killed, 40000))
  assert metrics_log.read(whole) == metrics_log.read(killed)
  assert trajectory.saved_steps(killed) == list(range(0, 40001, 10000))


def test_one_device_equals_eight_devices(tmp_path):
  assert len(jax.devices()) == 8
  results = {}
  for devices in (1, 8):
    c = tiny('teacher', num_devices=devices, sgd_block_steps=8)  # lowrank_sgd's recursion
    c.teacher.update(batch_size=16, num_steps=500)
    workdir = str(tmp_path / f'd{devices}')
    train_and_evaluate(c, workdir)
    results[devices] = (final_params(workdir, 500), metrics_log.read(workdir))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
               results[1][0], results[8][0])
  for r1, r8 in zip(results[1][1], results[8][1]):
    for k in r1:
      np.testing.assert_allclose(r1[k], r8[k], rtol=1e-4, atol=1e-5)


def test_a_distilled_student_on_one_device_equals_eight_devices(teacher_dir, tmp_path):
  """A divergence other than forward_kl, and the teacher diagnostics, over a split batch."""
  results = {}
  for devices in (1, 8):
    c = student('one_shot', teacher_dir, num_devices=devices)
    c.student.update(batch_size=16, num_steps=500, loss='jsd')
    workdir = str(tmp_path / f'd{devices}')
    train_and_evaluate(c, workdir)
    results[devices] = (checkpoints.load_latest_params(workdir)[0], metrics_log.read(workdir))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
               results[1][0], results[8][0])
  for r1, r8 in zip(results[1][1], results[8][1]):
    assert r1.keys() == r8.keys() and 'eval_kl_forward' in r1
    for k in r1:
      np.testing.assert_allclose(r1[k], r8[k], rtol=1e-4, atol=1e-5)


def test_rerunning_a_finished_run_changes_nothing(teacher_dir):
  before = {p: os.path.getmtime(os.path.join(teacher_dir, p))
            for p in ('config.json', 'metrics.jsonl')}
  final = train_and_evaluate(tiny('teacher'), teacher_dir)
  assert final['step'] == 3000
  assert before == {p: os.path.getmtime(os.path.join(teacher_dir, p)) for p in before}


def test_a_student_can_distil_from_the_teacher_as_of_an_earlier_step(teacher_dir, tmp_path):
  # The tiny teacher trains at a constant learning rate, so its first 1,500 steps are those of
  # a teacher trained for 1,500 steps: distilling from it as of step 1,500 is distilling from
  # that shorter teacher.
  shorter = str(tmp_path / 'shorter')
  c = tiny('teacher')
  c.teacher.num_steps = 1500
  train_and_evaluate(c, shorter)
  as_of = student('one_shot', teacher_dir)
  as_of.student.teacher_final_step = 1500
  train_and_evaluate(as_of, str(tmp_path / 'as_of'))
  train_and_evaluate(student('one_shot', shorter), str(tmp_path / 'from_shorter'))
  assert (metrics_log.read(str(tmp_path / 'as_of')) ==
          metrics_log.read(str(tmp_path / 'from_shorter')))

  unfinished = str(tmp_path / 'unfinished')  # a teacher still training: no final point yet
  shutil.copytree(teacher_dir, unfinished)
  for part in ('trajectory', 'checkpoints'):
    shutil.rmtree(os.path.join(unfinished, part, '3000'))
  with open(os.path.join(unfinished, metrics_log.FILENAME), 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in metrics_log.read(teacher_dir)
                 if r['step'] < 3000)
  with pytest.raises(ConfigError, match='not finished.*teacher_final_step'):
    train_and_evaluate(student('progressive', unfinished), str(tmp_path / 'refused'))
  progressive = student('progressive', unfinished)
  progressive.student.update(teacher_final_step=2500, schedule=dict(
      kind='multiplier', multiplier=3.0, checkpoints=(-1,), steps_per_checkpoint=()))
  train_and_evaluate(progressive, str(tmp_path / 'progressive'))
  assert max(r['teacher_step'] for r in metrics_log.read(str(tmp_path / 'progressive'))) == 2500
  progressive.student.teacher_final_step = 2600
  with pytest.raises(ConfigError, match='teacher_final_step: the teacher in .* saved no trajectory point at step 2600'):
    train_and_evaluate(progressive, str(tmp_path / 'missing'))


def test_a_teacher_stack_that_would_not_fit_is_refused_before_it_is_loaded(teacher_dir,
                                                                          tmp_path, monkeypatch,
                                                                          caplog):
  caplog.set_level('INFO', logger='pdistill')
  train_and_evaluate(student('progressive', teacher_dir), str(tmp_path / 'fits'))
  assert 'teacher: 2 checkpoint(s) of' in caplog.text and 'MiB free in' in caplog.text
  monkeypatch.setattr(mesh_lib, 'free_bytes', lambda device=None: (1_000, 'a small device'))
  with pytest.raises(ConfigError, match='config.student.schedule: the 2 teacher checkpoints it '
                     'selects .* take 0.00 GiB, more than 80% of the 0.00 GiB free in '
                     'a small device'):
    train_and_evaluate(student('progressive', teacher_dir), str(tmp_path / 'refused'))
