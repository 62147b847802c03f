"""Per-run metrics: ``WORKDIR/metrics.jsonl`` (one JSON object per line) and TensorBoard events."""

from __future__ import annotations

import json
import logging
import math
import os

from pdistill.metrics.tensorboard import EventWriter

FILENAME = 'metrics.jsonl'
log = logging.getLogger('pdistill')


def _parse(path: str) -> tuple[list[dict], bool]:
  """(records, whether the file ends mid-line): a cut-off last line (a crash mid-write) is
  skipped with a warning, a bad earlier one refused naming the file and line."""
  if not os.path.exists(path):
    return [], False
  with open(path) as f:
    text = f.read()
  lines = [line for line in text.splitlines(keepends=True) if line.strip()]
  records = []
  for i, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError:
      if i < len(lines) - 1 or line.endswith('\n'):
        raise ValueError(f'{path}: line {i + 1} is not a JSON record: {line[:80]!r}') from None
      log.warning('%s: skipping its cut-off last line (a run stopped while writing it)', path)
  return records, bool(text) and not text.endswith('\n')  # whole records end with a newline


LOSSES = ('train_loss', 'eval_loss')  # what goes non-finite when a run diverges


def diverged_at(records: list[dict]) -> int | None:
  """The first step whose loss is not finite (a diverged run, or sweep member), or None."""
  for r in records:
    if any(k in r and not math.isfinite(r[k]) for k in LOSSES):
      return int(r['step'])
  return None


def read(workdir: str) -> list[dict]:
  """The records; a cut-off last line (a crash mid-write) is skipped, a bad earlier one refused."""
  return _parse(os.path.join(workdir, FILENAME))[0]


class MetricsLog:

  def __init__(self, workdir: str, resume_step: int):
    """Opens the log of a run that (re)starts at ``resume_step``.

    Records past ``resume_step`` (and, for a fresh start, step 0 itself) were written by an
    interrupted attempt after its last checkpoint; this attempt recomputes them, so they are
    dropped (atomically) to avoid twins, as is a cut-off last line.
    """
    os.makedirs(workdir, exist_ok=True)
    self._path = os.path.join(workdir, FILENAME)
    records, torn = _parse(self._path)
    kept = [r for r in records if r['step'] < resume_step or 0 < r['step'] == resume_step]
    if len(kept) != len(records) or torn:
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
