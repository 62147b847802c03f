"""The small checks every vocabulary's owner states its rules with (pure Python).

Each raises ``ConfigError`` naming the dotted field and what would be valid.
"""

from __future__ import annotations

from pdistill.config import ConfigError


def require(ok: bool, field: str, message: str) -> None:
  if not ok:
    raise ConfigError(field, message)


def get(config, field: str):
  node = config
  for part in field.split('.'):
    if part not in node:
      raise ConfigError(field, 'is missing; start from a config in configs/')
    node = node[part]
  return node


def choice(config, field: str, choices) -> None:
  value = get(config, field)
  require(value in choices, field, f'{value!r} is not one of {tuple(choices)}')


def positive(config, field: str, allow_zero: bool = False) -> None:
  value = get(config, field)
  ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and
        (value >= 0 if allow_zero else value > 0))
  require(ok, field, f'must be {"non-negative" if allow_zero else "positive"}, got {value!r}')
