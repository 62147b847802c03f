"""The ``config.json`` that pins a run (``config.run_dict``) to its workdir.

A workdir holds one run.  Rerunning the same command resumes it; a command whose run-defining
fields differ (anything outside ``loop``, which only sets cadence and chunking) is refused
before anything is written, so it cannot mix two experiments in one directory.  A field added
to pdistill after a run was recorded is no difference when the command leaves it at its
default (``config.ADDED_FIELDS``): new options never strand recorded runs.
"""

from __future__ import annotations

import json
import os

from pdistill.config import ConfigError, recorded_diffs, run_dict
from pdistill.storage.run_lock import WorkdirError

FILENAME = 'config.json'
RUN_FILES = ('checkpoints', 'trajectory', 'metrics.jsonl')  # what only a claimed workdir holds


def read(workdir: str) -> dict | None:
  """The run config recorded in ``workdir`` (None if there is none); a damaged one is a
  WorkdirError naming the file."""
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      saved = json.load(f)
  except (ValueError, UnicodeDecodeError) as e:
    raise WorkdirError(f'{path} is damaged ({str(e).splitlines()[0][:120]}), so nothing says '
                       'which run this workdir holds; restore the file (the command that made '
                       'the run rewrites nothing here), or use a new --workdir') from None
  if not isinstance(saved, dict) or 'method' not in saved:
    raise WorkdirError(f'{path} is not a pdistill run config (no "method"); restore the file, '
                       'or use a new --workdir')
  return saved


def claim(workdir: str, config, write: bool = True, located: tuple[str, ...] = ()) -> bool:
  """Pins ``workdir`` to this run; returns True when it already held it (a resume).

  ``write=False`` (every process of a multi-host run but the first) only checks.
  ``located``: fields that say only where something is found (a student's
  ``teacher_workdir`` once its teacher's identity is recorded beside it), not what the run is.
  """
  new = run_dict(config)
  saved = read(workdir)
  if saved is not None:
    saved_run = {k: v for k, v in saved.items() if k != 'loop'}
    diffs = [d for d in recorded_diffs(saved_run, new) if d[0] not in located]
    if diffs:
      field, was, now = diffs[0]
      others = ''.join(f'; config.{f} is {n!r} (run has {w!r})' for f, w, n in diffs[1:])
      raise ConfigError(field, f'is {now!r} but the run already in {workdir} has {was!r}'
                        f'{others}; use the same config to resume it, or a new --workdir')
    return True
  found = [name for name in RUN_FILES if os.path.exists(os.path.join(workdir, name))]
  if found:
    raise WorkdirError(f'workdir {workdir} holds {", ".join(found)} but no {FILENAME}, so '
                       'nothing says which run wrote them; use another --workdir (or restore '
                       f'its {FILENAME})')
  if not write:
    return False
  os.makedirs(workdir, exist_ok=True)
  tmp = os.path.join(workdir, FILENAME + '.tmp')
  with open(tmp, 'w') as f:
    json.dump({**new, 'loop': config.loop.to_dict()}, f, indent=2)
  os.replace(tmp, os.path.join(workdir, FILENAME))
  return False
