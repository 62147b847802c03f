"""Real text for BERT-style masked LM: documents from tfds or local files, UTF-8 byte tokens.

Sources (``data.source``):

* ``tfds``: a prepared TensorFlow Datasets dataset (``data.tfds_name``, e.g.
  ``wikipedia/20230601.en`` or ``pg19``, in ``data.tfds_data_dir``), read with
  ``tfds.data_source``: random access, no TensorFlow.  It must be prepared in the
  ``array_record`` file format (``tfds build NAME --file_format=array_record``); the record
  field holding the text is ``data.text_field`` (``text`` for wikipedia, ``book_text`` for pg19).
* ``files``: local UTF-8 text files (``data.files``, comma-separated glob patterns); one
  document per file.
* ``pydoc``: the text of Python's own documentation topics (``pydoc_data.topics``, 79
  documents, 0.47 MB of English), which ships with every Python: for tests and the smoke run.

Tokens are UTF-8 bytes (ids 0..255) plus PAD, MASK, BOS and EOS: a tokenizer with nothing to
download, train or keep in sync, exact on any language.  A training example is BOS and then
``seq_len - 1`` bytes from a uniform offset of a uniformly drawn document; a document shorter
than that is followed by EOS and PAD.  Every
``data.holdout_every``-th document is kept out of training and gives the eval windows, unless
``data.tfds_eval_split`` names a split of its own.  Examples are a pure function of
(seed, step), like every pdistill task.

``tensorflow_datasets`` and ``pydoc_data`` are imported inside the functions that read them:
tfds is heavy (it pulls in its own dependency tree at import) and only ``source=tfds`` needs it.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Callable, Sequence

import numpy as np

from pdistill.config import ConfigError

PAD, MASK, BOS, EOS = 256, 257, 258, 259
VOCAB = 264  # 260 ids, rounded up to a multiple of 8
SOURCES = ('tfds', 'files', 'pydoc')


def encode(text: str | bytes) -> np.ndarray:
  return np.frombuffer(text if isinstance(text, bytes) else text.encode('utf-8'), np.uint8)


def decode(ids: Sequence[int]) -> str:
  """Byte ids back to text; special ids are dropped, broken UTF-8 replaced."""
  return bytes(int(i) for i in ids if 0 <= i < 256).decode('utf-8', errors='replace')


@dataclasses.dataclass
class Documents:
  """Random access to a corpus: ``len`` and ``get(i) -> uint8 array``."""

  size: int
  get: Callable[[int], np.ndarray]
  name: str

  def __len__(self) -> int:
    return self.size


def _in_memory(texts: list, name: str) -> Documents:
  encoded = [encode(t) for t in texts]
  return Documents(len(encoded), lambda i: encoded[i], name)


def pydoc_documents() -> Documents:
  from pydoc_data import topics
  return _in_memory([topics.topics[k] for k in sorted(topics.topics)], 'pydoc_data.topics')


def file_documents(patterns: str) -> Documents:
  paths = sorted({p for pattern in patterns.split(',') if pattern.strip()
                  for p in glob.glob(os.path.expanduser(pattern.strip()), recursive=True)
                  if os.path.isfile(p)})
  if not paths:
    raise ConfigError('data.files', f'{patterns!r} matches no files (comma-separated glob '
                      'patterns of UTF-8 text files, e.g. "corpus/*.txt")')
  texts = []
  for path in paths:
    with open(path, 'rb') as f:
      texts.append(f.read())
  return _in_memory(texts, f'{len(paths)} files')


def tfds_documents(name: str, split: str, data_dir: str, field: str) -> Documents:
  import tensorflow_datasets as tfds
  where = data_dir or os.environ.get('TFDS_DATA_DIR') or '~/tensorflow_datasets'
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
  except Exception as e:  # tfds raises several types for "not prepared" and bad splits
    reason = str(e).splitlines()[0].rstrip('.') if str(e) else ''
    raise ConfigError('data.tfds_name', f'cannot open split {split!r} of {name!r} in {where}: '
                      f'{type(e).__name__}: {reason}.  '
                      f'Prepare it once with: tfds build {name} --file_format=array_record '
                      f'{"--data_dir=" + data_dir if data_dir else ""}'.rstrip()) from None
  if len(source) == 0:
    raise ConfigError('data.tfds_name', f'split {split!r} of {name!r} is empty')
  first = source[0]
  if field not in first:
    raise ConfigError('data.text_field', f'{field!r} is not a field of {name!r} records; '
                      f'they have {sorted(first)}')
  return Documents(len(source), lambda i: encode(source[int(i)][field]), f'tfds {name}[{split}]')


def open_documents(data, split: str = 'train') -> Documents:
  if data.source == 'pydoc':
    return pydoc_documents()
  if data.source == 'files':
    return file_documents(data.files)
  if data.source == 'tfds':
    return tfds_documents(data.tfds_name, split, data.tfds_data_dir, data.text_field)
  raise ConfigError('data.source', f'{data.source!r} is not one of {SOURCES}')


class Corpus:
  """Training and eval documents, and windows of them as token rows."""

  def __init__(self, data):
    self.seq_len = data.seq_len
    docs = open_documents(data, data.get('tfds_split', 'train') or 'train')
    if data.source == 'tfds' and data.tfds_eval_split:
      self.train, self.eval = docs, open_documents(data, data.tfds_eval_split)
      self.train_ids = self.eval_ids = None
    else:
      every = data.holdout_every
      if len(docs) < every:
        raise ConfigError('data.holdout_every', f'{docs.name} has {len(docs)} documents, fewer '
                          f'than holdout_every={every}: no document is left for eval')
      self.train = self.eval = docs
      # Document i is held out when i % every == every - 1.
      self.train_ids = lambda j: j + j // (every - 1) if every > 1 else j
      self.eval_ids = lambda j: j * every + every - 1
      self._sizes = (len(docs) - len(docs) // every, len(docs) // every)

  def count(self, eval_split: bool) -> int:
    if self.train_ids is None:
      return len(self.eval if eval_split else self.train)
    return self._sizes[1 if eval_split else 0]

  def windows(self, rng: np.random.Generator, n: int, eval_split: bool = False) -> np.ndarray:
    """[n, seq_len] int32 rows: BOS, a document window, EOS if the document ends in it, PAD."""
    docs = self.eval if eval_split else self.train
    ids = self.eval_ids if eval_split else self.train_ids
    picks = rng.integers(0, self.count(eval_split), n)
    body = self.seq_len - 1
    rows = np.full((n, self.seq_len), PAD, np.int32)
    rows[:, 0] = BOS
    for r, j in enumerate(picks):
      doc = docs.get(ids(int(j)) if ids else int(j))
      start = int(rng.integers(0, max(len(doc) - body, 0) + 1))
      piece = doc[start:start + body]
      rows[r, 1:1 + len(piece)] = piece
      if len(piece) < body:  # the document ends inside the window
        rows[r, 1 + len(piece)] = EOS
    return rows
