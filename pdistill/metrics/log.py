"""Per-run metrics: ``WORKDIR/metrics.jsonl`` (one JSON object per line) and TensorBoard events."""

from __future__ import annotations

import json
import os

from pdistill.metrics.tensorboard import EventWriter

FILENAME = 'metrics.jsonl'


def read(workdir: str) -> list[dict]:
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


class MetricsLog:

  def __init__(self, workdir: str, resume_step: int):
    """Opens the log of a run that (re)starts at ``resume_step``.

    Records past ``resume_step`` were written by an interrupted attempt after its last
    checkpoint; this attempt recomputes them, so they are dropped (atomically) to avoid twins.
    """
    os.makedirs(workdir, exist_ok=True)
    self._path = os.path.join(workdir, FILENAME)
    records = read(workdir)
    kept = [r for r in records if r['step'] <= resume_step]
    if len(kept) != len(records):
      tmp = self._path + '.tmp'
      with open(tmp, 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in kept)
      os.replace(tmp, self._path)
    self._file = open(self._path, 'a')
    self._events_dir = os.path.join(workdir, 'tensorboard')
    self._events = None  # opened on the first write: rerunning a finished run adds no file

  def write(self, step: int, metrics: dict[str, float]) -> None:
    record = {'step': int(step), **{k: float(v) for k, v in metrics.items()}}
    self._file.write(json.dumps(record) + '\n')
    self._file.flush()
    if self._events is None:
      self._events = EventWriter(self._events_dir)
    self._events.scalars(step, {k: v for k, v in record.items() if k != 'step'})

  def close(self) -> None:
    self._file.close()
    if self._events is not None:
      self._events.close()
