"""Starts ``jax.distributed`` when a run spans several processes (TPU pod hosts, Slurm tasks).

Every process runs the same command.  The mesh then covers all processes' devices, each
process computes the same host data (a pure function of seed and step), Orbax checkpoints are
written collectively, and only process 0 writes metrics, config.json, plots and progress lines
(``mesh.is_writer``).

Explicit: ``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (what the
tests use on one machine).  ``--multihost``: ``jax.distributed.initialize()`` finds everything
itself on a Cloud TPU slice, in a Slurm job (one task per GPU) or under Open MPI; the launch
scripts in launch/ pass it.  Without either, a run never joins a job (a Slurm allocation of
several tasks only gets a warning): it runs on its own host.

``use_cpu_devices(N)`` (``--cpu_devices``) splits one host's CPU into N XLA devices, so a CPU
sweep spreads its members over the cores: XLA runs one CPU device's program on one thread for
the small ops of batch-1 training (on the 2-core benchmark machine this about doubles a
15-member grid, benchmarks/RESULTS.md).  Like ``jax.distributed``, it must come before JAX
first touches a device.
"""

from __future__ import annotations

import logging
import os
import sys

import jax

log = logging.getLogger('pdistill')


def use_cpu_devices(count: int) -> None:
  if count < 1:
    raise ValueError(f'--cpu_devices={count} must be at least 1')
  jax.config.update('jax_num_cpu_devices', count)


def cluster_detected(environ=os.environ) -> bool:
  """Whether the environment is one process of a multi-process job jax can join by itself."""
  if int(environ.get('SLURM_NTASKS', '1') or 1) > 1 and 'SLURM_JOB_ID' in environ:
    return True
  return ',' in environ.get('TPU_WORKER_HOSTNAMES', '')  # one entry per host of the slice


INIT_TIMEOUT_S = 300  # how long process 0 waits for the others before giving up
UNJOINED_WARNING = ('warning: this looks like one process of a multi-process job (Slurm tasks '
                    'or a TPU slice); it runs on this host alone: pass --multihost to join the '
                    'job')


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, auto: bool = False,
               timeout_s: int = INIT_TIMEOUT_S) -> bool:
  """Joins the multi-process job if asked to (explicit flags or ``auto``); returns whether it did.

  Only when asked: a shell inside ``salloc -n 2`` looks like a 2-task job, and joining it
  uninvited would wait for a second process that never comes.
  """
  if coordinator_address:
    missing = [name for name, v in (('--num_processes', num_processes),
                                    ('--process_id', process_id)) if v is None]
    if missing:
      raise ValueError(f'--coordinator_address needs {" and ".join(missing)} as well')
    if not 0 <= process_id < num_processes:
      raise ValueError(f'--process_id={process_id} must be in 0..{num_processes - 1}')
    log.info('joining a %d-process job as process %d: waiting up to %d s for the coordinator '
             'at %s', num_processes, process_id, timeout_s, coordinator_address)
    kwargs = dict(coordinator_address=coordinator_address, num_processes=num_processes,
                  process_id=process_id)
  elif auto:
    log.info('--multihost: waiting up to %d s for the job found by jax.distributed', timeout_s)
    kwargs = {}
  else:
    if cluster_detected():
      # Printed: pdistill's log lines are not set up yet (they depend on the process index).
      print(UNJOINED_WARNING, file=sys.stderr)
    return False
  try:
    jax.distributed.initialize(initialization_timeout=timeout_s, **kwargs)
  except Exception as e:  # noqa: BLE001  jax raises plain RuntimeErrors / XlaRuntimeErrors
    raise ValueError(f'could not join the multi-process job within {timeout_s} s: '
                     f'{str(e).splitlines()[0] if str(e) else type(e).__name__}') from e
  log.info('process %d of %d; %d local and %d global devices', jax.process_index(),
           jax.process_count(), jax.local_device_count(), jax.device_count())
  return True
