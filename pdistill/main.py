r"""Command line: ``python -m pdistill.main --config=configs/X.py[:options] [--workdir=DIR]``.

Without ``--config`` it runs the parity smoke pipeline.  ``--config.a.b=value`` overrides a
field (ml_collections refuses unknown fields and wrong types).  Rerunning a command resumes it.
This module only launches: everything it runs is ``train.train_and_evaluate``.

Exit codes: 0 done (or already done); 2 a bad command, config, file or workdir, with one line
naming it; 3 the run diverged (non-finite loss or params; the last good checkpoint is kept);
130 / 143 stopped by SIGINT / SIGTERM at a chunk boundary, with a checkpoint to resume from.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from pdistill.config import ConfigError, files
from pdistill.engine import Diverged, Interrupted
from pdistill.metrics import progress
from pdistill.parallel import mesh, multihost
from pdistill.storage.run_lock import WorkdirError
from pdistill.train import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file('config', files.default_config(),
                                          'experiment config file[:options]')
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'run directory (default: runs/<config>_<method>_<size>); on '
                               'several hosts a path every host sees (shared filesystem)')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None,
    'HOST:PORT of process 0 for a multi-process run started by hand (TPU pods and Slurm jobs '
    'need only --multihost)')
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
  """The error for a config file that is missing or refuses its options, or for the first
  ``--config.a.b=v`` naming no field of the config; None when there is none.

  absl and ml_collections would stop on these with tracebacks; this names the file, option or
  field and lists the valid ones instead.
  """
  spec = next((a.split('=', 1)[1] for a in argv if a.startswith('--config=')),
              files.default_config())
  overrides = [a[len('--config.'):].split('=', 1)[0] for a in argv if a.startswith('--config.')]
  path, _ = files.split_spec(spec)
  if not os.path.exists(path):
    return f'--config: {path} does not exist'
  try:
    config = files.load_config(spec)
  except ValueError as e:  # e.g. an unknown variant: the config file's own message
    return f'--config={spec}: {e}'
  except Exception:  # noqa: BLE001  let absl report other errors of the config file itself
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


class Terminated(KeyboardInterrupt):
  """SIGTERM outside the training loop: unwinds like SIGINT, so the run says where it stopped."""

  def __init__(self, signum: int):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


def _terminated(signum, frame):
  del frame
  raise Terminated(signum)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  # Orbax logs routine saves and reads, and its writer threads log each failure with a
  # traceback that the main thread then raises again (reported below, or shown once).
  logging.set_verbosity(logging.FATAL)
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
  signal.signal(signal.SIGTERM, _terminated)  # the loop takes both signals over while it runs
  try:
    train_and_evaluate(config, workdir)
  except (ConfigError, WorkdirError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except Diverged as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(3)
  except Interrupted as e:
    print(str(e), file=sys.stderr)
    sys.exit(128 + e.signum)
  except KeyboardInterrupt as e:  # outside the loop (loading, compiling, between sub-runs)
    signum = getattr(e, 'signum', signal.SIGINT)
    print(f'{signal.Signals(signum).name}: stopped outside a run\'s training loop (loading, '
          f'compiling or between runs); what {workdir} held is kept: rerun the same command to '
          'resume', file=sys.stderr)
    sys.exit(128 + signum)
  except Exception as e:  # noqa: BLE001  only a full or unwritable disk is reported here
    cause = storage_error(e)
    if cause is None:
      raise
    print(f'error: cannot write {cause.filename or workdir}: {cause.strerror}. What was saved '
          'before is kept; free space (or make it writable) and rerun the same command to '
          'resume from the latest checkpoint', file=sys.stderr)
    sys.stderr.flush()
    os._exit(2)  # Orbax's writer threads would print their own copies of the error at exit


STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)
# TensorStore (under Orbax) reports a failed write as a ValueError whose text holds the errno.
_TENSORSTORE_ERRNO = re.compile(r"os_error_code='(\d+)'")
_TENSORSTORE_PATH = re.compile(r'(?:Failed writing|local file):? "([^"]+)"')


def storage_error(e: BaseException) -> OSError | None:
  """The full-disk or read-only OSError behind ``e`` (libraries wrap it), or None."""
  seen = set()
  while e is not None and id(e) not in seen:
    seen.add(id(e))
    if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
      return e
    code = _TENSORSTORE_ERRNO.search(str(e))
    if code and int(code.group(1)) in STORAGE_ERRNOS:
      path = _TENSORSTORE_PATH.search(str(e))
      return OSError(int(code.group(1)), os.strerror(int(code.group(1))),
                     path.group(1) if path else None)
    e = e.__cause__ or e.__context__
  return None


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with a bad flag value (or config file) an exit 2 in one line."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


def run() -> None:
  argv = resolve_config_flag(sys.argv)
  error = check_override_fields(argv[1:])
  if error:
    print(f'error: {error}', file=sys.stderr)
    sys.exit(2)
  app.run(main, argv=argv, flags_parser=parse_flags)


if __name__ == '__main__':
  run()
