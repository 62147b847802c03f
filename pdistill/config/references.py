"""References to user code in a config: ``'package.module:Name'`` or ``'/path/to/file.py:Name'``.

A run of a user's own model or data (the Python API, ``pdistill.fit``) pins them in its
``config.json`` as such references, so the command line, probes and ``load_run`` can rebuild
them in another process.  Only the standard library is used here; resolving a reference imports
the user's module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from pdistill.config import ConfigError


def reference(obj) -> str:
  """The reference of a module-level class or function (a script's file path for __main__)."""
  module, name = getattr(obj, '__module__', None), getattr(obj, '__qualname__', '')
  if not module or not name or '<' in name or '.' in name:
    raise ValueError(f'{obj!r} is not defined at the top level of a module or script, so a '
                     'run cannot name it in its config.json; define it at top level')
  if module == '__main__':
    path = getattr(sys.modules['__main__'], '__file__', None)
    if not path:
      raise ValueError(f'{name} is defined in an interactive session, so a run cannot name it '
                       'in its config.json; define it in a module or script file')
    return f'{os.path.abspath(path)}:{name}'
  return f'{module}:{name}'


_loading: list[str] = []  # scripts being imported by ``resolve``, innermost last


class RunsAtImport(RuntimeError):
  """A script that trains when imported (``pdistill.fit`` outside a ``__main__`` guard)."""


def check_not_loading(what: str) -> None:
  """Raises RunsAtImport if a script is being imported by ``resolve``: ``what`` (training)
  must not happen as a side effect of loading a run's model or data."""
  if _loading:
    raise RunsAtImport(f'{_loading[-1]} calls {what} when imported')


def resolve(ref: str, field: str):
  """The object ``ref`` names; a ConfigError naming ``field`` if it cannot be found."""
  where, sep, name = str(ref).rpartition(':')
  if not sep or not where or not name:
    raise ConfigError(field, f'{ref!r} is not a reference: give "package.module:Name" or '
                      '"/path/to/file.py:Name"')
  try:
    if where.endswith('.py'):
      module = _load_file(where)
    else:
      module = importlib.import_module(where)
  except (ImportError, OSError) as e:
    raise ConfigError(field, f'cannot import {where!r} ({e})') from None
  except RunsAtImport as e:
    raise ConfigError(field, f'{e}, so naming it would train again: put its training under '
                      "if __name__ == '__main__': (or move the model and data to a module of "
                      'their own)') from None
  if not hasattr(module, name):
    raise ConfigError(field, f'{where!r} has no {name!r}')
  return getattr(module, name)


def _load_file(path: str):
  """A script by path, once per process, under a name of its own (never ``__main__``), so its
  ``if __name__ == '__main__'`` block does not run."""
  path = os.path.abspath(path)
  main = sys.modules.get('__main__')
  if main is not None and os.path.abspath(getattr(main, '__file__', '') or '') == path:
    return main  # the running script itself
  name = f'pdistill_user_{abs(hash(path)):x}'
  if name not in sys.modules:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
      raise ImportError(f'{path} is not a Python file')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _loading.append(path)
    try:
      spec.loader.exec_module(module)
    except BaseException:
      del sys.modules[name]
      raise
    finally:
      _loading.pop()
  return sys.modules[name]
