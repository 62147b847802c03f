r"""Command line: ``python -m pdistill.main --config=configs/X.py[:options] [--workdir=DIR]``.

Without ``--config`` it runs the parity smoke pipeline.  ``--config.a.b=value`` overrides a
field (ml_collections refuses unknown fields and wrong types).  Rerunning a command resumes it.
This module only launches: everything it runs is ``train.train_and_evaluate``.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from pdistill.config import ConfigError, files
from pdistill.metrics import progress
from pdistill.parallel import mesh, multihost
from pdistill.train import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file('config', files.default_config(),
                                          'experiment config file[:options]')
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'run directory (default: runs/<config>_<method>_<size>); on '
                               'several hosts a path every host sees (shared filesystem)')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None,
    'HOST:PORT of process 0 for a multi-process run started by hand (TPU pods and Slurm jobs '
    'are detected without it)')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'with --coordinator_address')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'with --coordinator_address: 0..N-1')
_MULTIHOST = flags.DEFINE_bool(
    'multihost', False, 'join a multi-host job found by jax.distributed.initialize() (Cloud TPU '
    'slices, Slurm, Open MPI); the launch/ scripts pass it')
_CPU_DEVICES = flags.DEFINE_integer(
    'cpu_devices', None, 'split the CPU into this many XLA devices (CPU runs): a sweep spreads '
    'its members over as many of them as divide the member count, one core each')


def default_workdir(config_spec: str, config) -> str:
  return os.path.join('runs', '_'.join([files.config_name(config_spec), config.method,
                                        config.get('size', 'full')]))


def check_override_fields(argv: list[str]) -> str | None:
  """The error for the first ``--config.a.b=v`` naming no field of the config, or None.

  ml_collections would stop on it with a bare AttributeError traceback; this names the field
  and lists the valid ones at that level instead.
  """
  spec = next((a.split('=', 1)[1] for a in argv if a.startswith('--config=')),
              files.default_config())
  overrides = [a[len('--config.'):].split('=', 1)[0] for a in argv if a.startswith('--config.')]
  if not overrides:
    return None
  path, _ = files.split_spec(spec)
  if not os.path.exists(path):
    return f'--config: {path} does not exist'
  try:
    config = files.load_config(spec)
  except Exception:  # let absl report errors of the config file itself
    return None
  for dotted in overrides:
    node, parts = config, []
    for part in dotted.split('.'):
      if not hasattr(node, 'keys') or part not in node:
        where = 'config' + ''.join('.' + p for p in parts)
        valid = sorted(node.keys()) if hasattr(node, 'keys') else []
        return (f'--config.{dotted}: {where} has no field {part!r}; valid fields: '
                f'{", ".join(valid)}')
      node, parts = node[part], parts + [part]
  return None


def resolve_config_flag(argv: list[str]) -> list[str]:
  """``--config=configs/X.py...`` pointing at the shipped configs when run outside a checkout."""
  out = []
  for a in argv:
    if a.startswith('--config='):
      path, arg = files.split_spec(a[len('--config='):])
      a = '--config=' + path + (':' + arg if arg else '')
    out.append(a)
  return out


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.ERROR)  # Orbax reports routine saves and reads
  try:
    if _CPU_DEVICES.value is not None:
      multihost.use_cpu_devices(_CPU_DEVICES.value)
    multihost.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                         auto=_MULTIHOST.value)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  # Other processes of a multi-host run stay quiet; process 0 reports for all.
  if mesh.is_writer():
    progress.log_to_stderr()
  config = _CONFIG.value
  workdir = _WORKDIR.value or default_workdir(
      config_flags.get_config_filename(flags.FLAGS['config']), config)
  progress.log.info('workdir: %s', os.path.abspath(workdir))
  try:
    train_and_evaluate(config, workdir)
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


def run() -> None:
  argv = resolve_config_flag(sys.argv)
  error = check_override_fields(argv[1:])
  if error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)
  app.run(main, argv=argv)


if __name__ == '__main__':
  run()
