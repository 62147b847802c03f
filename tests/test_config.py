"""The config vocabulary: config files load without JAX, from any working directory."""

import os
import subprocess
import sys

import pytest

from pdistill import config as config_lib
from pdistill.config import files
from tiny_configs import REPO


def test_loading_every_config_file_imports_nothing_heavier_than_ml_collections():
  code = ('import sys\n'
          'from pdistill.config import files\n'
          'for name in ("parity_mlp", "parity_transformer", "pcfg_bert", "pcfg_gpt2", '
          '"text_bert"):\n'
          '  files.load_config(f"configs/{name}.py:smoke")\n'
          'heavy = sorted({m.split(".")[0] for m in sys.modules} & '
          '{"jax", "flax", "optax", "orbax", "tensorflow_datasets", "matplotlib"})\n'
          'print(heavy)\n')
  out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                       check=True)
  assert out.stdout.strip() == '[]'


def test_shipped_configs_are_found_from_any_working_directory(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  c = files.load_config('configs/parity_mlp.py:teacher,smoke')
  assert (c.method, c.size) == ('teacher', 'smoke')
  assert os.path.exists(os.path.join(files.configs_dir(), 'parity_mlp.py'))
  assert files.default_config().endswith(os.path.join('parity_mlp.py') + ':smoke')
  with pytest.raises(FileNotFoundError, match='no_such.py'):
    files.load_config('configs/no_such.py')


def test_a_file_in_the_working_directory_wins_over_the_shipped_one(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  os.makedirs('configs')
  with open('configs/parity_mlp.py', 'w') as f:
    f.write('import ml_collections\n\ndef get_config():\n'
            '  return ml_collections.ConfigDict(dict(method="mine"))\n')
  assert files.load_config('configs/parity_mlp.py').method == 'mine'


def test_pipeline_entries_name_their_method_folder_schedule_and_loss():
  assert config_lib.pipeline_entry('ce') == ('ce', 'ce', {})
  assert config_lib.pipeline_entry('progressive:auto') == (
      'progressive', 'progressive_auto', {'schedule': {'kind': 'auto'}})
  assert config_lib.pipeline_entry('progressive:400x200') == (
      'progressive', 'progressive_400_200',
      {'schedule': {'kind': 'manual', 'checkpoints': (400, -1), 'steps_per_checkpoint': (200,)}})
  assert config_lib.pipeline_entry('one_shot@jsd') == ('one_shot', 'one_shot@jsd',
                                                       {'loss': 'jsd'})
  assert config_lib.pipeline_entry('progressive:auto@taid') == (
      'progressive', 'progressive_auto@taid', {'schedule': {'kind': 'auto'}, 'loss': 'taid'})


def test_run_section_and_run_dict():
  c = files.load_config('configs/parity_mlp.py:ce,smoke')
  assert config_lib.section_name('teacher') == 'teacher'
  assert config_lib.section_name('progressive') == 'student'
  assert config_lib.run_section(c) is c.student
  d = config_lib.run_dict(c)
  assert set(d) == {'method', 'seed', 'data', 'student'}
  # CE reads neither a teacher nor a schedule: they do not pin its workdir.
  assert not {'schedule', 'curriculum', 'alpha', 'teacher_workdir'} & set(d['student'])
