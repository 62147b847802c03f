"""pdistill: progressive distillation and curriculum extraction in JAX/Flax.

The public API (README, "Your own model and data"), loaded on first use so that importing
``pdistill.config`` (as every config file does) never starts JAX:

* ``pdistill.fit(workdir, method=..., model=..., data=..., ...)`` and ``make_config``;
* ``pdistill.Data``: a task, ``batch(seed, step)`` plus an eval set;
* ``pdistill.load_run(workdir, step=None)``: a run's model, params and config;
* ``pdistill.train_and_evaluate(config, workdir)``: the entry point of the command line.
"""

import importlib

__version__ = '0.1.0'

_PUBLIC = {
    'fit': 'pdistill.api', 'make_config': 'pdistill.api', 'Data': 'pdistill.data.custom',
    'load_run': 'pdistill.saved_run', 'LoadedRun': 'pdistill.saved_run',
    'train_and_evaluate': 'pdistill.train',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
  if name in _PUBLIC:
    return getattr(importlib.import_module(_PUBLIC[name]), name)
  raise AttributeError(f'module pdistill has no attribute {name!r}')
