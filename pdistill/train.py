"""``train_and_evaluate(config, workdir)``: the one entry point of CLI, tests and notebooks.

It validates the config once, locks the workdir (``storage.run_lock``), then runs the pipeline
(``method=pipeline``), a sweep (a non-empty ``config.sweep`` grid) or one run (the engine's
``train_run``).
"""

from __future__ import annotations

from pdistill import config as config_lib
from pdistill import engine, pipeline, sweep
from pdistill.data import tasks
from pdistill.parallel import mesh
from pdistill.storage import run_lock
from pdistill.validation import validate


def train_and_evaluate(config, workdir: str) -> dict:
  """Runs ``config.method`` in ``workdir`` (resuming what is there); returns the final metrics.

  A pipeline returns {run name: final metrics}, a sweep {member name: final metrics}.
  """
  # A custom task's factory runs once: validation hands its Data to every run below.
  with tasks.reusing_custom_data():
    validate(config)
    with run_lock.hold(workdir, enabled=mesh.is_writer()):  # one process per workdir
      if config.method == 'pipeline':
        return pipeline.run(config, workdir)
      if config_lib.is_sweep(config):
        return sweep.run(config, workdir)
      return engine.train_run(config, workdir)
