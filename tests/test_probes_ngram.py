"""The n-gram metrics against hand-built inputs and models whose answers are known."""

import numpy as np

from pdistill.data import pcfg
from pdistill.probes import ngram

MASK = 6


def test_total_variation_by_hand():
  p, q = np.array([0.5, 0.5, 0.0]), np.array([0.2, 0.3, 0.5])
  assert np.isclose(ngram.total_variation(p, q), 0.5 * (0.3 + 0.2 + 0.5))


def test_variants_by_hand():
  tokens = np.array([3, 0, 1, 2, 0, 1, 2, 5, 5])  # BOS, 6 terminals, PAD PAD
  only_p, also_window, only_window = ngram.variants(tokens, 6, p=3, n=2, mask_id=MASK)
  assert only_p.tolist() == [3, 0, 1, 6, 0, 1, 2, 5, 5]
  assert also_window.tolist() == [3, 0, 6, 6, 6, 1, 2, 5, 5]
  assert only_window.tolist() == [3, 6, 1, 6, 0, 6, 6, 5, 5]
  # A window reaching past the sentence is clipped to it (BOS and PAD never masked).
  _, also_window, _ = ngram.variants(tokens, 6, p=1, n=4, mask_id=MASK)
  assert also_window.tolist() == [3, 6, 6, 6, 0, 1, 2, 5, 5]


def test_variants_hide_their_masked_positions_for_hidden_key_runs():
  tokens = np.array([3, 0, 1, 2, 0, 1, 2, 5, 5])
  plain = ngram.variants(tokens, 6, p=3, n=2, mask_id=MASK)
  hidden = ngram.variants(tokens, 6, p=3, n=2, mask_id=MASK, hidden_vocab=8)
  for a, b in zip(plain, hidden):
    assert (b == np.where(a != tokens, a + 8, a)).all()
  assert hidden[1].tolist() == [3, 0, 14, 14, 14, 1, 2, 5, 5]


def test_position_stride_is_the_references_on_cfg3_and_shorter_on_pdcfg5():
  assert ngram.position_stride(pcfg.load('cfg3b')) == 30
  assert ngram.position_stride(pcfg.load('pdcfg5')) == 8  # mean length 35


def _sentences():
  return pcfg.sample(pcfg.load('cfg3b'), np.random.default_rng(0), 3)


def test_a_model_reading_only_its_neighbours_has_zero_close_distance():
  def predict(tokens):  # the prediction at t depends on tokens t-1 and t+1 only
    left = np.roll(tokens, 1, axis=1)
    right = np.roll(tokens, -1, axis=1)
    probs = np.zeros(tokens.shape + (8,))
    probs[..., 0] = (left % 3) / 4 + 0.1
    probs[..., 1] = (right % 3) / 4 + 0.1
    probs[..., 2] = 1 - probs[..., 0] - probs[..., 1]
    return probs

  result = ngram.metrics(predict, _sentences(), windows=[2, 4], mask_id=MASK)
  for n in (2, 4):
    robust, close = result[n]
    assert close == 0.0 and robust > 0


def test_a_model_that_ignores_its_input_has_zero_distances():
  predict = lambda tokens: np.full(tokens.shape + (8,), 1 / 8)
  assert ngram.metrics(predict, _sentences(), windows=[8], mask_id=MASK) == {8: (0.0, 0.0)}
