"""GPT-2-style causal decoder and BERT-style bidirectional encoder sharing one block.

Both are pre-LayerNorm (GPT-2's layout, so that one block serves both; the reference's BERT,
Hugging Face's BertForMaskedLM, is post-LN: a known difference from the reference), with
learned position embeddings, GELU MLPs of width 4x and N(0, 0.02) initialisation.  The only
differences are the attention mask (causal vs. padding) and what is read out.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

INIT = nn.initializers.normal(0.02)


class Block(nn.Module):
  width: int
  num_heads: int

  @nn.compact
  def __call__(self, x, mask):
    h = nn.LayerNorm(name='ln_attn')(x)
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.num_heads, qkv_features=self.width,
                                            kernel_init=INIT, name='attn')(h, h, mask=mask)
    h = nn.LayerNorm(name='ln_mlp')(x)
    h = nn.gelu(nn.Dense(4 * self.width, kernel_init=INIT, name='mlp_in')(h))
    return x + nn.Dense(self.width, kernel_init=INIT, name='mlp_out')(h)


class Transformer(nn.Module):
  """Token ids [B, T] -> logits [B, T, num_outputs] ('all') or [B, num_outputs] ('last')."""

  vocab_size: int
  num_outputs: int
  width: int
  depth: int
  num_heads: int
  max_len: int
  causal: bool
  readout: str = 'all'  # 'all' positions (language modelling) or the 'last' one (classification)
  pad_id: int | None = None  # keys holding it are masked out (bidirectional models)
  # Ids >= vocab_size are id - vocab_size at a position no other position may attend to
  # (masked-LM positions hidden as keys, data.masked_keys=hidden; data/mlm_masking.py).
  hidden_keys: bool = False

  @nn.compact
  def __call__(self, tokens, return_hidden: bool = False):
    seq = tokens.shape[-1]
    if seq > self.max_len:
      raise ValueError(f'sequence length {seq} exceeds model max_len {self.max_len}')
    keys = jnp.ones_like(tokens, bool)
    if self.hidden_keys:
      keys = tokens < self.vocab_size
      tokens = jnp.where(keys, tokens, tokens - self.vocab_size)
    x = nn.Embed(self.vocab_size, self.width, embedding_init=INIT, name='embed')(tokens)
    pos = self.param('pos_embed', INIT, (self.max_len, self.width))
    x = x + pos[:seq]
    padded = not self.causal and self.pad_id is not None
    if padded:
      keys = keys & (tokens != self.pad_id)
    mask = None
    if self.hidden_keys or padded:
      mask = nn.make_attention_mask(jnp.ones_like(tokens, bool), keys)
    if self.causal:
      mask = nn.combine_masks(mask, nn.make_causal_mask(tokens))
    hiddens = []
    for i in range(self.depth):
      x = Block(self.width, self.num_heads, name=f'block_{i}')(x, mask)
      hiddens.append(x)
    x = nn.LayerNorm(name='ln_final')(x)
    if self.readout == 'last':
      x = x[..., -1, :]
    logits = nn.Dense(self.num_outputs, kernel_init=INIT, name='head')(x)
    return (logits, hiddens) if return_hidden else logits
