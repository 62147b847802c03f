r"""BERT-style masked LM on real English text (tfds or local files), UTF-8 byte tokens.

``--config=configs/text_bert.py:METHOD[,SIZE]``, METHOD as in configs/parity_mlp.py.

  full   Wikipedia through tfds (``wikipedia/20230601.en``, field ``text``), prepared once as
         array_record: ``tfds build wikipedia/20230601.en --file_format=array_record``.
         BOS + windows of 511 bytes (seq_len 512), 15% of bytes chosen (80% MASK,
         10% random byte, 10% kept).  The PCFG BERT architecture (pre-LN): teacher 4 layers
         width 256 x 32 heads, student 4 layers width 64 x 8 heads; AdamW lr 1e-3, betas
         (0.9, 0.95), 6% warmup + cosine; batch 256, 20,000 steps, teacher checkpoint every
         1,000 steps; students on the multiplier-1 rule at temperature 1.  Not run here: it
         needs an accelerator (about 2.6e9 byte tokens; the CPU manages ~1k tokens/s at this
         width, see benchmarks/RESULTS.md).
  books  ``full`` on the pg19 books corpus (``pg19``, field ``book_text``; it has its own
         validation split, used for eval).
  smoke  the text of Python's documentation topics (``pydoc_data.topics``, ships with
         Python), seq_len 64, 2-layer models of width 32 / 16, batch 16, 400 steps: about a
         minute on a laptop CPU; the teacher's masked-byte loss falls well below the unigram
         entropy of the text (tests/test_text_mlm.py).

Any tfds text dataset: ``--config.data.tfds_name=NAME --config.data.text_field=FIELD``
(``--config.data.tfds_data_dir=DIR`` if not in ~/tensorflow_datasets).  Local files:
``--config.data.source=files --config.data.files='corpus/*.txt'`` (one document per file).

  python -m pdistill.main --config=configs/text_bert.py:smoke --workdir=/tmp/text_bert
  python -m pdistill.main --config=configs/text_bert.py:teacher --workdir=runs/wiki_teacher
"""

from pdistill.config import builders as cb

SIZES = ('full', 'books', 'smoke')
METHODS = cb.METHODS


def get_config(arg: str | None = None):
  options = cb.parse_options(arg, SIZES)
  adamw = lambda: cb.optimizer('adamw', 1e-3, 'cosine', 0.06, b1=0.9, b2=0.95)
  c = cb.experiment(
      options,
      data=dict(task='text_mlm', source='tfds', tfds_name='wikipedia/20230601.en',
                tfds_data_dir='', tfds_split='train', tfds_eval_split='', text_field='text',
                files='', seq_len=512, mask_rate=0.15, masked_keys='visible', holdout_every=100,
                eval_size=1024),
      teacher=dict(model=cb.transformer('bert', 256, 4, 32, 512), optim=adamw(),
                   batch_size=256, num_steps=20_000, trajectory_every_steps=1_000),
      student=dict(model=cb.transformer('bert', 64, 4, 8, 512), optim=adamw(),
                   batch_size=256, num_steps=20_000),
      loop=dict(chunk_steps=10, eval_every_steps=500, checkpoint_every_steps=1_000,
                eval_batch_size=64, teacher_batch_rows=64, log_every_secs=30.0))
  c.student.curriculum.update(teacher_layers=(1, 3), stage_steps=(2_000, 2_000))
  if options.size in ('full', 'books'):
    cb.accelerator_sizes(c)
  if options.size == 'books':
    c.data.update(tfds_name='pg19', text_field='book_text', tfds_eval_split='validation')
  elif options.size == 'smoke':
    c.data.update(source='pydoc', seq_len=64, holdout_every=10, eval_size=256)
    c.teacher.model.update(width=32, depth=2, num_heads=1, max_len=64)
    c.teacher.update(batch_size=16, num_steps=400, trajectory_every_steps=100)
    for run in (c.teacher, c.student):
      run.optim.learning_rate = 3e-3
    c.student.model.update(width=16, depth=2, num_heads=1, max_len=64)
    c.student.update(batch_size=16, num_steps=400)
    c.student.curriculum.update(teacher_layers=(0, 1), stage_steps=(50, 50))
    c.student.schedule.update(kind='manual', checkpoints=(200, -1), steps_per_checkpoint=(100,))
    c.loop.update(eval_every_steps=50, checkpoint_every_steps=100, log_every_secs=5.0)
  return c
