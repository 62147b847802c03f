"""GPT-2-style causal decoder and BERT-style bidirectional encoder sharing one block.

Both are pre-LayerNorm (GPT-2's layout, so that one block serves both; the reference's BERT,
Hugging Face's BertForMaskedLM, is post-LN: a known difference from the reference), with
learned position embeddings, GELU MLPs of width 4x and N(0, 0.02) initialisation.  The only
differences are the attention mask (causal vs. padding) and what is read out.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

INIT = nn.initializers.normal(0.02)
# model.attention: 'fused' = jax.nn.dot_product_attention (cuDNN's fused kernel on GPUs where it
# supports the shape, XLA's otherwise; the accelerator-size configs); 'flax' = Flax's own
# softmax(q k^T) v (the default: the CPU reproductions' results were made with it).
ATTENTION = ('fused', 'flax')
# model.dtype: the compute dtype; params stay float32 either way.
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def fused_attention(query, key, value, mask=None, **unused):
  """Flax's attention_fn signature over ``jax.nn.dot_product_attention`` (same [B, T, N, H]
  layout; Flax's 0/1 mask as booleans, broadcast to [B, N, T, S])."""
  del unused  # dropout is not used by these models
  return jax.nn.dot_product_attention(query, key, value,
                                      mask=None if mask is None else mask.astype(bool))


class Block(nn.Module):
  width: int
  num_heads: int
  attention: str = 'flax'
  dtype: str = 'float32'

  @nn.compact
  def __call__(self, x, mask):
    dtype = DTYPES[self.dtype]
    kw = dict(dtype=dtype, param_dtype=jnp.float32)
    attention_fn = fused_attention if self.attention == 'fused' else nn.dot_product_attention
    h = nn.LayerNorm(name='ln_attn', **kw)(x)
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.num_heads, qkv_features=self.width,
                                            kernel_init=INIT, attention_fn=attention_fn,
                                            name='attn', **kw)(h, h, mask=mask)
    h = nn.LayerNorm(name='ln_mlp', **kw)(x)
    h = nn.gelu(nn.Dense(4 * self.width, kernel_init=INIT, name='mlp_in', **kw)(h))
    return x + nn.Dense(self.width, kernel_init=INIT, name='mlp_out', **kw)(h)


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
  attention: str = 'flax'  # ATTENTION
  dtype: str = 'float32'  # DTYPES: the compute dtype (logits come out float32)

  @nn.compact
  def __call__(self, tokens, return_hidden: bool = False):
    seq = tokens.shape[-1]
    if seq > self.max_len:
      raise ValueError(f'sequence length {seq} exceeds model max_len {self.max_len}')
    keys = jnp.ones_like(tokens, bool)
    if self.hidden_keys:
      keys = tokens < self.vocab_size
      tokens = jnp.where(keys, tokens, tokens - self.vocab_size)
    dtype = DTYPES[self.dtype]
    x = nn.Embed(self.vocab_size, self.width, embedding_init=INIT, dtype=dtype,
                 name='embed')(tokens)
    pos = self.param('pos_embed', INIT, (self.max_len, self.width))
    x = x + pos[:seq].astype(dtype)
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
      x = Block(self.width, self.num_heads, self.attention, self.dtype,
                name=f'block_{i}')(x, mask)
      hiddens.append(x)
    x = nn.LayerNorm(name='ln_final', dtype=dtype, param_dtype=jnp.float32)(x)
    if self.readout == 'last':
      x = x[..., -1, :]
    logits = nn.Dense(self.num_outputs, kernel_init=INIT, dtype=dtype, param_dtype=jnp.float32,
                      name='head')(x)
    logits = logits.astype(jnp.float32)
    return (logits, hiddens) if return_hidden else logits
