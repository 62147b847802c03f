"""benchmarks/accelerator_suite.py --tiny: every workload measured, labelled with its device."""

import json
import os
import subprocess
import sys
import pytest

from tiny_configs import REPO


@pytest.mark.slow
def test_the_tiny_suite_measures_every_workload_on_the_device_it_names(tmp_path):
  out = str(tmp_path / 'suite')
  script = os.path.join(REPO, 'benchmarks', 'accelerator_suite.py')
  result = subprocess.run([sys.executable, script, '--tiny', '--budget_s=3',
                           '--sampler_processes=2', f'--out={out}'],
                          capture_output=True, text=True, cwd=REPO)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out + '.json') as f:
    suite = json.load(f)
  assert suite['device'].startswith('CPU') and suite['tiny']
  names = [r['workload'] for r in suite['rows']]
  assert names == ['parity MLP distill 16 <- 64', 'PCFG BERT (cfg3b) teacher step',
                   'parity transformer teacher step']
  mlp, bert, parity = suite['rows']
  assert mlp['block path'] > 0 and mlp['per-step'] > 0
  assert bert['fp32'] > 0 and bert['host sampler'] > 0 and parity['fp32'] > 0
  assert bert['host sampler pool'] > 0  # --sampler_processes=2
  with open(out + '.md') as f:
    table = f.read()
  assert table.startswith('Device: **CPU')
  assert '| PCFG BERT (cfg3b) teacher step | tokens/s |' in table
  assert 'Host PCFG sampler (PCFG BERT (cfg3b) teacher step): ' in table
