"""Splits the host CPU into several XLA devices so a CPU sweep can use every core.

XLA runs one CPU device's program on one thread for the small ops of batch-1 training, so a
sweep on one CPU device leaves the other cores idle.  With N host devices the sweep's members
are spread over them (``data_mesh.make_mesh``), one thread each: on the 2-core benchmark
machine this about doubles a 15-member grid (benchmarks/RESULTS.md).  XLA reads the setting
once, when JAX first touches a device, so this must run before that (``pdistill.main`` calls it
before anything else).
"""

from __future__ import annotations

import os
import re

_FLAG = '--xla_force_host_platform_device_count'


def split_cpu(count: int, environ=os.environ) -> None:
  """Asks XLA for ``count`` CPU devices, replacing any count already in ``XLA_FLAGS``."""
  if count < 1:
    raise ValueError(f'--cpu_devices={count} must be at least 1')
  flags = re.sub(_FLAG + r'=\S*', '', environ.get('XLA_FLAGS', '')).split()
  environ['XLA_FLAGS'] = ' '.join(flags + [f'{_FLAG}={count}'])
