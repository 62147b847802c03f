"""Tests run on 8 fake CPU devices, so data-parallel code paths are exercised on any machine."""

import os

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# One persistent compilation cache for the session (each pytest-xdist worker has its own) and
# the processes its tests start: many tests compile the same tiny programs (the same tiny
# teacher, the CLI's smoke runs).  A fresh folder per session, so nothing compiled by other
# code is ever reused.
import tempfile  # noqa: E402

os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='pdistill_test_jit_')
os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0.1'

import sys  # noqa: E402

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: trains at smoke size, or kills and reruns subprocesses; README\'s '
      'test command leaves these to the second tier (-m slow), which CI runs after it')


@pytest.fixture(scope='session')
def repo_root():
  return REPO
