"""Loading experiment config files: ``configs/X.py[:options]`` -> an ml_collections ConfigDict.

The experiment configs live in the checkout's top-level ``configs/`` and are installed with the
wheel as the package ``pdistill.configs``.  A relative path is looked up in the working
directory first, then among those configs, so ``--config=configs/parity_mlp.py:smoke`` works
from a checkout and from a plain ``pip install`` alike.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import types

_CHECKOUT_CONFIGS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'configs')


def configs_dir() -> str:
  """The folder of the shipped experiment configs: the installed package's, else the checkout's."""
  try:
    spec = importlib.util.find_spec('pdistill.configs')
  except ImportError:
    spec = None
  if spec is not None and spec.submodule_search_locations:
    return list(spec.submodule_search_locations)[0]
  return _CHECKOUT_CONFIGS


def default_config() -> str:
  """What ``python -m pdistill.main`` runs without ``--config``: the parity smoke pipeline."""
  return os.path.join(configs_dir(), 'parity_mlp.py') + ':smoke'


def resolve(path: str) -> str:
  """``path`` as given if it exists, else the shipped config it names (``configs/X.py``)."""
  if os.path.exists(path):
    return path
  shipped = os.path.join(configs_dir(), os.path.basename(path))
  if os.path.dirname(path) in ('configs', os.path.join('.', 'configs')) and os.path.exists(shipped):
    return shipped
  return path


def split_spec(spec: str) -> tuple[str, str]:
  """'configs/X.py:opts' -> (resolved path, 'opts')."""
  path, _, arg = spec.partition(':')
  return resolve(path), arg


def load_config(spec: str):
  """The config of ``'configs/X.py[:options]'``, as ``--config`` loads it (for notebooks,
  scripts and tests).  Raises FileNotFoundError naming the file when it does not exist."""
  path, arg = split_spec(spec)
  if not os.path.exists(path):
    raise FileNotFoundError(f'config file {path!r} not found (the shipped configs are in '
                            f'{configs_dir()})')
  module = load_module(path)
  return module.get_config(arg) if arg else module.get_config()


def load_module(path: str) -> types.ModuleType:
  """The config file at ``path`` as a module (its ``get_config``, ``SIZES``, ``METHODS``)."""
  loader = importlib.machinery.SourceFileLoader('pdistill_config', resolve(path))
  module = types.ModuleType(loader.name)
  loader.exec_module(module)
  return module


def config_name(spec: str) -> str:
  """'configs/parity_mlp.py:smoke' -> 'parity_mlp'."""
  return os.path.splitext(os.path.basename(spec.partition(':')[0]))[0]
