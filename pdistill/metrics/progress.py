"""A periodic progress line: step, steps/s over the last interval, ETA and latest metrics."""

from __future__ import annotations

import datetime
import logging
import time

log = logging.getLogger('pdistill')


def log_to_stderr(level=logging.INFO) -> None:
  """Shows pdistill's own progress lines on stderr; other libraries stay at WARNING.

  Orbax logs every checkpoint step at INFO through absl, which would bury the progress lines.
  """
  if not any(getattr(h, '_pdistill', False) for h in log.handlers):
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter('%(asctime)s %(message)s', '%H:%M:%S'))
    handler._pdistill = True
    log.addHandler(handler)
  log.setLevel(level)
  log.propagate = False


class Progress:

  def __init__(self, name: str, total_steps: int, start_step: int, every_secs: float = 10.0):
    self._name, self._total, self._every = name, total_steps, every_secs
    self._start_time = self._last_time = time.perf_counter()
    self._start_step = self._last_step = start_step

  def update(self, step: int, metrics: dict[str, float], force: bool = False) -> None:
    now = time.perf_counter()
    if not force and now - self._last_time < self._every:
      return
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    overall = (step - self._start_step) / max(now - self._start_time, 1e-9)
    eta = datetime.timedelta(seconds=round((self._total - step) / overall)) if overall else '?'
    shown = ' '.join(f'{k} {v:.4g}' for k, v in metrics.items())
    log.info('[%s] step %d/%d (%.1f%%) | %.0f steps/s | ETA %s | %s', self._name, step,
             self._total, 100 * step / max(self._total, 1), rate, eta, shown)
    self._last_time, self._last_step = now, step
