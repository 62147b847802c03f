"""One process per workdir: an exclusive ``flock`` on ``WORKDIR/.lock`` for the life of a run.

The kernel drops the lock when its holder exits, however it exits (SIGKILL included), so a lock
left by a killed run is never stale: the next run takes it over at once.  The file names its
holder (PID, host, start time) for the message a refused run prints; a run that ends removes
it (and the workdir, if it made it and wrote nothing there), so a refused command leaves no
trace.  A multi-host run is locked by process 0 only; ``flock`` on network filesystems is only
as good as their lock support (NFSv4 and Lustre with ``flock`` mounts honour it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time

FILENAME = '.lock'
_held: set[str] = set()  # workdirs this process holds: holding one again is a no-op


class WorkdirError(ValueError):
  """A workdir that cannot be used as asked (held by another run, not a folder, headless)."""


def read_only(workdir: str) -> bool:
  """Whether ``workdir`` exists but cannot be written (a read-only mount, no permission)."""
  return os.path.isdir(workdir) and not os.access(workdir, os.W_OK)


@contextlib.contextmanager
def hold(workdir: str, enabled: bool = True):
  """Holds ``workdir``'s lock while the block runs; raises WorkdirError if another run has it.

  A read-only workdir is not locked: nothing can be written there, and a run in it may only
  report what is finished (``engine.train_run``).
  """
  if '://' in workdir:
    raise WorkdirError(f'workdir {workdir}: remote workdirs are not supported (they are not '
                       'locked or verified); give a local or shared-filesystem path')
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f'workdir {workdir} is a file, not a folder; give a folder path')
  key = os.path.realpath(workdir)
  if not enabled or key in _held or read_only(workdir):
    yield
    return
  created = not os.path.exists(workdir)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, FILENAME)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 200, 0).decode(errors='replace').strip() or 'another process'
      raise WorkdirError(f'workdir {workdir} is in use by {holder}; wait for that run to end '
                         '(or stop it), or use another --workdir') from None
    if not os.path.exists(path) or os.stat(path).st_ino != os.fstat(fd).st_ino:
      # The previous holder removed the file between our open and our lock: the lock that
      # counts is on whatever file is at ``path`` now, so this run does not start.
      raise WorkdirError(f'workdir {workdir} changed hands while this run started; rerun it')
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'pid {os.getpid()} on host {socket.gethostname()} (since '
                  f'{time.strftime("%Y-%m-%d %H:%M:%S")})\n'.encode(), 0)
    _held.add(key)
    try:
      yield
    finally:
      _held.discard(key)
      with contextlib.suppress(FileNotFoundError):  # while still locked: a run that opened
        os.unlink(path)  # the file meanwhile sees it replaced, and starts over
  finally:
    os.close(fd)  # releases the lock
    if created:
      with contextlib.suppress(OSError):
        os.rmdir(workdir)  # only if empty: a run refused before writing leaves no folder
