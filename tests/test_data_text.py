"""Masked LM on real text: byte tokens, windows, hold-out, sources (tfds, files, pydoc), learning."""

import os
import sys

import numpy as np
import pytest

from pdistill.config import ConfigError
from pdistill.data import tasks
from pdistill.data import text as text_data
from pdistill.metrics import log as metrics_log
from pdistill.train import train_and_evaluate
from tiny_configs import load_config_module


def text_config(method='teacher', **data):
  c = load_config_module('text_bert').get_config(f'{method},smoke')
  c.data.update(**data)
  return c


def pydoc_texts():
  from pydoc_data import topics
  return [topics.topics[k] for k in sorted(topics.topics)]


def test_bytes_round_trip_any_language():
  text = 'naïve café — 東京, ok'
  ids = text_data.encode(text)
  assert ids.max() < 256 and len(ids) == len(text.encode('utf-8'))
  assert text_data.decode(list(ids) + [text_data.EOS, text_data.PAD]) == text


def test_windows_are_pieces_of_documents_between_bos_and_eos():
  corpus = text_data.Corpus(text_config(seq_len=512).data)  # some documents are shorter
  rows = corpus.windows(np.random.default_rng(0), 200)
  docs = [t.encode('utf-8') for t in pydoc_texts()]
  assert rows.shape == (200, 512) and (rows[:, 0] == text_data.BOS).all()
  ended = 0
  for row in rows:
    body = row[1:]
    end = np.flatnonzero(body >= 256)
    piece = bytes((body[:end[0]] if len(end) else body).tolist())
    assert any(piece in d for d in docs)
    if len(end):  # the document ended inside the window: EOS, then only PAD
      ended += 1
      assert body[end[0]] == text_data.EOS and (body[end[0] + 1:] == text_data.PAD).all()
      assert any(d.endswith(piece) for d in docs)
  assert 0 < ended < 200


def test_held_out_documents_never_train():
  corpus = text_data.Corpus(text_config().data)  # 79 documents, every 10th held out
  train = {corpus.train_ids(j) for j in range(corpus.count(False))}
  held = {corpus.eval_ids(j) for j in range(corpus.count(True))}
  assert held == {9, 19, 29, 39, 49, 59, 69} and train == set(range(79)) - held


def test_batches_are_a_pure_function_of_seed_and_step():
  task = tasks.build(text_config().data, 8)
  a, b, c = task.batch(0, 5), task.batch(0, 5), task.batch(0, 6)
  for key in a:
    np.testing.assert_array_equal(a[key], b[key])
  assert not np.array_equal(a['labels'], c['labels'])
  chosen = a['weights'] > 0
  assert (a['labels'][chosen] < 256).all()  # only bytes are predicted, never BOS/EOS/PAD
  masked = a['inputs'] == text_data.MASK
  assert (masked <= chosen).all() and masked.sum() > 0.5 * chosen.sum()
  rate = chosen.sum() / (a['labels'] < 256).sum()
  assert 0.08 < rate < 0.25  # mask_rate 0.15


def unigram_entropy():
  counts = np.bincount(np.concatenate([text_data.encode(t) for t in pydoc_texts()]),
                       minlength=256)
  p = counts[counts > 0] / counts.sum()
  return float(-(p * np.log(p)).sum())


@pytest.mark.slow
def test_smoke_teacher_learns_beyond_byte_frequencies(tmp_path):
  final = train_and_evaluate(text_config(), str(tmp_path))
  rows = metrics_log.read(str(tmp_path))
  # Masked bytes predicted without context cost the unigram entropy (3.26 nats); the teacher
  # must use the context around the mask to do better.
  assert final['eval_loss'] < unigram_entropy() - 0.05, rows[-1]
  assert rows[0]['eval_loss'] > 5.0


@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory):
  """A tfds dataset written here as array_record (no download): pydoc topics, 2 splits."""
  import tensorflow_datasets as tfds

  keys = sorted(__import__('pydoc_data.topics', fromlist=['topics']).topics)

  class PydocTopics(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version('1.0.0')

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(
          {'text': tfds.features.Text(), 'title': tfds.features.Text()}))

    def _split_generators(self, dl_manager):
      return {'train': self._generate_examples(keys[:70]),
              'validation': self._generate_examples(keys[70:])}

    def _generate_examples(self, names):
      from pydoc_data import topics
      for k in names:
        yield k, {'text': topics.topics[k], 'title': k}

  data_dir = str(tmp_path_factory.mktemp('tfds'))
  PydocTopics(data_dir=data_dir, file_format='array_record').download_and_prepare()
  return data_dir


def test_tfds_source_reads_the_prepared_splits_without_tensorflow(tfds_dir):
  data = text_config(source='tfds', tfds_name='pydoc_topics', tfds_data_dir=tfds_dir,
                     tfds_eval_split='validation').data
  corpus = text_data.Corpus(data)
  texts = pydoc_texts()
  read = lambda docs: {text_data.decode(docs.get(i)) for i in range(len(docs))}
  assert read(corpus.train) == set(texts[:70]) and read(corpus.eval) == set(texts[70:])
  assert 'tensorflow' not in sys.modules


@pytest.mark.slow
def test_training_from_tfds(tfds_dir, tmp_path):
  c = text_config(source='tfds', tfds_name='pydoc_topics', tfds_data_dir=tfds_dir,
                  tfds_eval_split='validation')
  c.teacher.num_steps = 200
  final = train_and_evaluate(c, str(tmp_path))
  assert final['eval_loss'] < metrics_log.read(str(tmp_path))[0]['eval_loss'] - 1.5


@pytest.mark.parametrize('fields,match', [
    (dict(tfds_name='no_such_corpus'), 'data.tfds_name.*tfds build no_such_corpus'),
    (dict(tfds_name='pydoc_topics', text_field='body'),
     "data.text_field: 'body' is not a field.*'text', 'title'"),
    (dict(tfds_name='pydoc_topics', tfds_eval_split='test'), "data.tfds_name.*split 'test'"),
])
def test_bad_tfds_settings_are_named(tfds_dir, tmp_path, fields, match):
  c = text_config(source='tfds', tfds_data_dir=tfds_dir, **fields)
  with pytest.raises(ConfigError, match=match):
    train_and_evaluate(c, str(tmp_path / 'w'))
  assert not os.path.exists(tmp_path / 'w')


def test_local_files_source(tmp_path):
  texts = pydoc_texts()
  for i in range(12):
    (tmp_path / f'doc{i:02d}.txt').write_text(texts[i])
  data = text_config(source='files', files=f'{tmp_path}/doc0*.txt, {tmp_path}/doc1*.txt').data
  corpus = text_data.Corpus(data)
  assert len(corpus.train) == 12 and corpus.count(True) == 1
  assert {text_data.decode(corpus.train.get(i)) for i in range(12)} == set(texts[:12])
  with pytest.raises(ConfigError, match='data.files.*matches no files'):
    text_data.Corpus(text_config(source='files', files=f'{tmp_path}/*.md').data)
