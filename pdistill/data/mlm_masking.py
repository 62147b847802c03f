"""BERT-style masking for the masked-LM tasks (numpy, seeded per step).

Each maskable position (a PCFG terminal or a text byte; not BOS, EOS or PAD) is chosen for
prediction with probability ``mask_rate`` (0.3 in the paper's PCFG runs, 0.15 for text as in
BERT), independently, like Hugging Face's DataCollatorForLanguageModeling.  Of the chosen
positions, 80% are replaced by MASK, 10% by a token drawn uniformly from ``random_ids`` (the
grammar's terminals a, b, c, or the 256 byte values: random tokens from the whole vocabulary
would inject BOS/PAD/MASK ids the model never sees otherwise), and 10% are kept.  The loss
counts only the chosen positions.
"""

from __future__ import annotations

import numpy as np

REPLACE_WITH_MASK = 0.8
REPLACE_WITH_RANDOM = 0.1


def mask_tokens(tokens: np.ndarray, rng: np.random.Generator, *, mask_rate: float, mask_id: int,
                random_ids, maskable: np.ndarray) -> dict[str, np.ndarray]:
  """Returns inputs (masked), labels (the original tokens) and weights (1 at chosen positions)."""
  chosen = maskable & (rng.random(tokens.shape) < mask_rate)
  action = rng.random(tokens.shape)
  to_mask = chosen & (action < REPLACE_WITH_MASK)
  to_random = chosen & (action >= REPLACE_WITH_MASK) & (
      action < REPLACE_WITH_MASK + REPLACE_WITH_RANDOM)
  random_tokens = np.asarray(random_ids, np.int32)[rng.integers(0, len(random_ids),
                                                                  tokens.shape)]
  inputs = np.where(to_mask, mask_id, np.where(to_random, random_tokens, tokens))
  return {'inputs': inputs.astype(np.int32), 'labels': tokens.astype(np.int32),
          'weights': chosen.astype(np.float32)}
