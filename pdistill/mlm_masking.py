"""BERT-style masking for the PCFG masked-LM task (numpy, seeded per step).

Each terminal position (not BOS, not PAD) is chosen for prediction with probability
``mask_rate`` (0.3 as in the paper's PCFG runs), independently, like Hugging Face's
DataCollatorForLanguageModeling.  Of the chosen positions, 80% are replaced by MASK, 10% by a
terminal drawn uniformly from the grammar's terminals (a, b, c: random tokens from the whole
vocabulary would inject BOS/PAD/MASK ids the model never sees otherwise), and 10% are kept.
The loss counts only the chosen positions.
"""

from __future__ import annotations

import numpy as np

REPLACE_WITH_MASK = 0.8
REPLACE_WITH_RANDOM = 0.1


def mask_tokens(tokens: np.ndarray, rng: np.random.Generator, *, mask_rate: float, mask_id: int,
                terminal_ids, maskable: np.ndarray) -> dict[str, np.ndarray]:
  """Returns inputs (masked), labels (the original tokens) and weights (1 at chosen positions)."""
  chosen = maskable & (rng.random(tokens.shape) < mask_rate)
  action = rng.random(tokens.shape)
  to_mask = chosen & (action < REPLACE_WITH_MASK)
  to_random = chosen & (action >= REPLACE_WITH_MASK) & (
      action < REPLACE_WITH_MASK + REPLACE_WITH_RANDOM)
  random_tokens = np.asarray(terminal_ids, np.int32)[rng.integers(0, len(terminal_ids),
                                                                  tokens.shape)]
  inputs = np.where(to_mask, mask_id, np.where(to_random, random_tokens, tokens))
  return {'inputs': inputs.astype(np.int32), 'labels': tokens.astype(np.int32),
          'weights': chosen.astype(np.float32)}
