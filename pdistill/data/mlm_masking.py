"""BERT-style masking for the masked-LM tasks (numpy, seeded per step).

Each maskable position (a PCFG terminal or a text byte; not BOS, EOS or PAD) is chosen for
prediction with probability ``mask_rate`` (0.3 in the paper's PCFG runs, 0.15 for text as in
BERT), independently, like Hugging Face's DataCollatorForLanguageModeling.  Of the chosen
positions, 80% are replaced by MASK, 10% by a token drawn uniformly from ``random_ids`` (the
grammar's terminals a, b, c, or the 256 byte values: random tokens from the whole vocabulary
would inject BOS/PAD/MASK ids the model never sees otherwise), and 10% are kept.  The loss
counts only the chosen positions.

``data.masked_keys`` says whether other positions may attend to the chosen ones:

  visible  (pdistill's default, Hugging Face's collator) they are ordinary attention keys, so a
           kept or randomised token is seen by its neighbours;
  hidden   (the reference's PCFG code) its attention mask is 0 at every chosen position: no
           position attends to them, each is seen only through its own residual stream.

A hidden position travels in the ordinary token array with its id shifted by the vocabulary
size (``hide``); a model built with ``hidden_keys`` embeds ``id mod vocab`` and masks those
keys.  So the batch, the teacher's forward pass and the probes need no second array.
"""

from __future__ import annotations

import numpy as np

REPLACE_WITH_MASK = 0.8
REPLACE_WITH_RANDOM = 0.1
MASKED_KEYS = ('visible', 'hidden')


def hide(inputs: np.ndarray, positions: np.ndarray, vocab_size: int) -> np.ndarray:
  """``inputs`` with ``positions`` marked as hidden attention keys (ids shifted by the vocab)."""
  return np.where(positions, inputs + vocab_size, inputs).astype(inputs.dtype)


def mask_tokens(tokens: np.ndarray, rng: np.random.Generator, *, mask_rate: float, mask_id: int,
                random_ids, maskable: np.ndarray,
                hidden_vocab: int | None = None) -> dict[str, np.ndarray]:
  """Returns inputs (masked), labels (the original tokens) and weights (1 at chosen positions).

  ``hidden_vocab`` (masked_keys=hidden): the model's vocabulary size; the chosen positions of
  the inputs are then ``hide``-marked.
  """
  chosen = maskable & (rng.random(tokens.shape) < mask_rate)
  action = rng.random(tokens.shape)
  to_mask = chosen & (action < REPLACE_WITH_MASK)
  to_random = chosen & (action >= REPLACE_WITH_MASK) & (
      action < REPLACE_WITH_MASK + REPLACE_WITH_RANDOM)
  random_tokens = np.asarray(random_ids, np.int32)[rng.integers(0, len(random_ids),
                                                                  tokens.shape)]
  inputs = np.where(to_mask, mask_id, np.where(to_random, random_tokens, tokens))
  if hidden_vocab is not None:
    inputs = hide(inputs, chosen, hidden_vocab)
  return {'inputs': inputs.astype(np.int32), 'labels': tokens.astype(np.int32),
          'weights': chosen.astype(np.float32)}
