"""Every config variant loads and validates; bad values are refused naming the field."""

import itertools

import pytest

from pdistill.config import DISTILL_METHODS, ConfigError
from pdistill.validation import validate
from tiny_configs import load_config_module

MODULE = load_config_module()
CONFIGS = ('parity_mlp', 'parity_transformer', 'pcfg_bert', 'pcfg_gpt2')
VARIANTS = [(name, method, size) for name in CONFIGS
            for method, size in itertools.product(load_config_module(name).METHODS,
                                                  load_config_module(name).SIZES)]


@pytest.mark.parametrize('name,method,size', VARIANTS)
def test_every_variant_loads_and_validates(name, method, size):
  c = load_config_module(name).get_config(f'{method},{size}')
  assert c.method == method and c.size == size
  if method in DISTILL_METHODS:
    c.student.teacher_workdir = '/some/teacher'
  validate(c)


def test_transformer_parity_repro_is_the_papers_shape_at_a_cpu_scale():
  """Several times fewer student heads at the teacher's head dimension; every method x 3 seeds."""
  c = load_config_module('parity_transformer').get_config('repro')
  teacher, student = c.teacher.model, c.student.model
  assert teacher.width // teacher.num_heads == student.width // student.num_heads == 8
  assert teacher.num_heads >= 4 * student.num_heads
  assert len(c.pipeline_student_seeds) >= 3
  assert {m.partition(':')[0] for m in c.pipeline_methods} == {
      'ce', 'one_shot', 'progressive', 'curriculum'}
  assert 'progressive:auto' in c.pipeline_methods
  validate(c)


def test_transformer_fields_are_checked():
  c = load_config_module('pcfg_bert').get_config('teacher,smoke')
  c.teacher.model.max_len = 100
  with pytest.raises(ConfigError, match=r'config.teacher.model.max_len: 100 is shorter than the '
                     r"task's sequences \(433 tokens\)"):
    validate(c)
  c = load_config_module('pcfg_bert').get_config('teacher,smoke')
  c.teacher.model.num_heads = 3
  with pytest.raises(ConfigError, match='config.teacher.model.num_heads: 3 heads do not divide'):
    validate(c)
  c = load_config_module('pcfg_bert').get_config('teacher,smoke')
  c.teacher.model = c.teacher.model.__class__(dict(name='mlp', hidden=(8,)))
  with pytest.raises(ConfigError, match="config.teacher.model.name: 'mlp' takes real-valued"):
    validate(c)
  c = load_config_module('pcfg_gpt2').get_config('teacher,smoke')
  c.data.boundary_depth = 7
  with pytest.raises(ConfigError, match='config.data.boundary_depth: must be 0..6'):
    validate(c)


def test_default_is_the_full_size_pipeline():
  c = MODULE.get_config()
  assert (c.method, c.size, c.teacher.model.hidden, c.student.model.hidden) == (
      'pipeline', 'full', (50_000,), (100,))
  assert (c.data.n, c.data.k, c.teacher.num_steps) == (100, 6, 20_000_000)


def test_unknown_variant_lists_the_valid_ones():
  with pytest.raises(ValueError, match="unknown config option.*'huge'.*smoke"):
    MODULE.get_config('teacher,huge')


@pytest.mark.parametrize('field,value,message', [
    ('method', 'distill', "config.method: 'distill' is not one of"),
    ('teacher.optim.name', 'rmsprop', "config.teacher.optim.name: 'rmsprop' is not one of"),
    ('data.num_labels', 3, 'config.data.num_labels: must be a power of two'),
    ('data.k', 30, 'config.data.k: 1 support sets of k=30 need 30 coordinates but n=20'),
    ('data.task', 'pcfg', "config.data.task: 'pcfg' is not one of"),
    ('student.alpha', 1.5, r'config.student.alpha: must be in \[0, 1\]'),
    ('student.schedule.kind', 'linear', "config.student.schedule.kind: 'linear' is not one of"),
    ('student.schedule.steps_per_checkpoint', (1, 2),
     'config.student.schedule.steps_per_checkpoint: needs one entry per checkpoint'),
    ('loop.chunk_steps', 0, 'config.loop.chunk_steps: must be positive'),
    ('loop.host_data_processes', -2,
     'config.loop.host_data_processes: must be a whole number >= 0'),
    ('pipeline_methods', ('progressive:linear',),
     "config.pipeline_methods: 'progressive:linear': schedule kind 'linear' is not one of"),
    ('pipeline_methods', ('ce:auto',), "config.pipeline_methods: 'ce:auto' is not one of"),
])
def test_bad_values_name_the_field(field, value, message):
  c = MODULE.get_config('pipeline,smoke')
  *parents, leaf = field.split('.')
  node = c
  for p in parents:
    node = node[p]
  node[leaf] = value
  with pytest.raises(ConfigError, match=message) as info:
    validate(c)
  assert info.value.field == field


def test_a_two_stage_pipeline_entry_is_checked_as_its_schedule():
  c = MODULE.get_config('pipeline,smoke')
  c.pipeline_methods = ('progressive:100x99999',)
  with pytest.raises(ConfigError, match='steps_per_checkpoint: sums to 99999 >= student.num_steps'):
    validate(c)
  c.pipeline_methods = ('progressive:100x500',)
  validate(c)


def test_distillation_without_teacher_workdir_is_refused():
  with pytest.raises(ConfigError, match='config.student.teacher_workdir: is empty'):
    validate(MODULE.get_config('one_shot,smoke'))
