"""``ConfigError``: a config value that cannot run, named by its dotted field.

Its own module so that data and model code can raise it without importing the validator.
"""

from __future__ import annotations


class ConfigError(ValueError):
  """A config value that cannot run; ``field`` is its dotted path, e.g. 'student.alpha'."""

  def __init__(self, field: str, message: str):
    super().__init__(f'config.{field}: {message}')
    self.field = field
