"""Checks a config before anything is written, naming the bad field and what would be valid.

``train.train_and_evaluate`` calls ``validate`` once; the vocabularies it checks against are
read from their owners (models, optimizers, data, schedules, phase_transition).

Unknown fields and wrong types given on the command line are rejected earlier, by
ml_collections itself (``--config.x=y`` only sets existing fields, with their type).
"""

from __future__ import annotations

from pdistill import divergences, models, optimizers, phase_transition, schedules
from pdistill.config import (DISTILL_METHODS, METHODS, STUDENT_METHODS, ConfigError,
                             apply_entry, pipeline_entry, references)
from pdistill.data import mlm_masking, pcfg, tasks, text
from pdistill.models import transformer


def _require(ok: bool, field: str, message: str) -> None:
  if not ok:
    raise ConfigError(field, message)


def _choice(config, field: str, choices) -> None:
  value = _get(config, field)
  _require(value in choices, field, f'{value!r} is not one of {tuple(choices)}')


def _positive(config, field: str, allow_zero: bool = False) -> None:
  value = _get(config, field)
  ok = isinstance(value, (int, float)) and (value >= 0 if allow_zero else value > 0)
  _require(ok, field, f'must be {"non-negative" if allow_zero else "positive"}, got {value!r}')


def _get(config, field: str):
  node = config
  for part in field.split('.'):
    if part not in node:
      raise ConfigError(field, 'is missing; start from a config in configs/')
    node = node[part]
  return node


def validate(config) -> None:
  _choice(config, 'method', METHODS)
  if config.method == 'pipeline':
    for entry in config.pipeline_methods:
      method, _, updates = pipeline_entry(entry)
      option = entry.partition('@')[0].partition(':')[2]
      _require(method in STUDENT_METHODS and (not option or method == 'progressive'),
               'pipeline_methods', f'{entry!r} is not one of {STUDENT_METHODS} (progressive '
               'may name a schedule kind, e.g. progressive:auto, or a (2, T) schedule, '
               'progressive:CxT; a distilling method a divergence, e.g. one_shot@jsd)')
      _require('loss' not in updates or method in DISTILL_METHODS, 'pipeline_methods',
               f'{entry!r}: {method} trains on the labels alone; only {DISTILL_METHODS} take '
               'a divergence (@LOSS)')
      kind = updates.get('schedule', {}).get('kind')
      _require(not option or kind in schedules.SCHEDULE_KINDS, 'pipeline_methods',
               f'{entry!r}: schedule kind {kind!r} is not one of '
               f'{schedules.SCHEDULE_KINDS} (or CxT: checkpoint C for T steps)')
  seq = _sequence_length(config.data, _validate_data(config))
  _validate_sweep(config)
  runs = {'pipeline': ('teacher', 'student'), 'teacher': ('teacher',)}.get(config.method,
                                                                          ('student',))
  for run in runs:
    _validate_run(config, run, seq)
  if 'student' in runs:
    _positive(config, 'student.temperature', allow_zero=True)
    alpha = config.student.alpha
    _require(0 <= alpha <= 1, 'student.alpha', f'must be in [0, 1], got {alpha!r}')
    methods = config.pipeline_methods if config.method == 'pipeline' else (config.method,)
    if 'curriculum' in methods:
      _validate_curriculum(config)
    for entry in methods:
      method, _, updates = pipeline_entry(entry)
      checked = config.copy_and_resolve_references()
      apply_entry(checked, updates)
      if method in DISTILL_METHODS:
        divergences.check(checked.student,
                          'pipeline_methods' if 'loss' in updates else 'student.loss')
      if method == 'progressive':
        _validate_schedule(checked)
  if 'student' in runs and 'teacher_final_step' in config.student:
    final = config.student.teacher_final_step
    _require(isinstance(final, int) and (final == -1 or final > 0),
             'student.teacher_final_step',
             f'must be -1 (the teacher\'s last step) or a saved teacher step, got {final!r}')
  if config.method in DISTILL_METHODS:
    _require(bool(config.student.teacher_workdir), 'student.teacher_workdir',
             'is empty: set it to the workdir of a finished teacher run '
             '(python -m pdistill.main --config=...:teacher --workdir=DIR)')
  for field in ('chunk_steps', 'eval_every_steps', 'checkpoint_every_steps', 'eval_batch_size',
                'teacher_batch_rows'):
    _positive(config, f'loop.{field}')
  _positive(config, 'loop.num_devices', allow_zero=True)
  _positive(config, 'loop.sgd_block_steps', allow_zero=True)
  processes = config.loop.get('host_data_processes', 0)
  _require(isinstance(processes, int) and not isinstance(processes, bool) and processes >= 0,
           'loop.host_data_processes', 'must be a whole number >= 0 (0 or 1: batches made in '
           f'the loop\'s own process; N > 1: by N worker processes), got {processes!r}')


def _validate_data(config):
  """Checks ``config.data``; returns a custom task's ``Data`` (its factory is called once here),
  else None."""
  _choice(config, 'data.task', tasks.TASKS)
  _positive(config, 'data.eval_size')
  data = config.data
  if data.task in ('pcfg_mlm', 'text_mlm') and 'masked_keys' in data:
    _choice(config, 'data.masked_keys', mlm_masking.MASKED_KEYS)
  if data.task == 'sparse_parity':
    for field in ('n', 'k', 'num_labels'):
      _positive(config, f'data.{field}')
    labels = data.num_labels
    _require(labels >= 2 and labels & (labels - 1) == 0, 'data.num_labels',
             f'must be a power of two >= 2 (2**depth leaves of the label tree), got {labels}')
    _choice(config, 'data.support', ('first', 'random'))
    needed = (labels - 1) * data.k
    _require(needed <= data.n, 'data.k',
             f'{labels - 1} support sets of k={data.k} need {needed} coordinates but n={data.n}')
  elif data.task == 'custom':
    _require(bool(data.get('factory')), 'data.factory',
             'is empty: name a function returning pdistill.Data, "pkg.mod:make_data" or '
             '"/path/script.py:make_data"')
    try:
      spec = tasks.custom_data(data)
    except (TypeError, ValueError) as e:
      raise ConfigError('data.factory', str(e)) from None
    size = len(spec.eval_set['inputs'])
    _require(data.eval_size == size, 'data.eval_size',
             f'is {data.eval_size} but the eval set of {data.factory} has {size} examples')
    batch = spec.batch_size()
    for run in ('teacher', 'student'):
      if run in config and (config.method == 'pipeline' or
                            (run == 'teacher') == (config.method == 'teacher')):
        _require(config[run].batch_size == batch, f'{run}.batch_size',
                 f'is {config[run].batch_size} but {data.factory} makes batches of {batch}')
    return spec
  elif data.task == 'text_mlm':
    _choice(config, 'data.source', text.SOURCES)
    _require(isinstance(data.seq_len, int) and data.seq_len >= 8, 'data.seq_len',
             f'must be an integer >= 8 (BOS + bytes + EOS), got {data.seq_len!r}')
    _require(0 < data.mask_rate < 1, 'data.mask_rate',
             f'must be in (0, 1), got {data.mask_rate!r}')
    _require(isinstance(data.holdout_every, int) and data.holdout_every >= 2,
             'data.holdout_every', f'must be an integer >= 2, got {data.holdout_every!r}')
    if data.source == 'tfds':
      _require(bool(data.tfds_name), 'data.tfds_name',
               'is empty: name a prepared tfds dataset, e.g. wikipedia/20230601.en or pg19')
    if data.source == 'files':
      _require(bool(data.files), 'data.files',
               'is empty: give comma-separated glob patterns of text files')
  else:
    _choice(config, 'data.grammar', pcfg.GRAMMARS)
    if data.task == 'pcfg_mlm':
      _require(0 < data.mask_rate < 1, 'data.mask_rate',
               f'must be in (0, 1), got {data.mask_rate!r}')
    else:
      depths = pcfg.load(data.grammar).depths
      _require(data.boundary_depth in range(depths), 'data.boundary_depth',
               f'must be 0..{depths - 1} for {data.grammar} ({depths - 1} = every token), '
               f'got {data.boundary_depth!r}')


def _sequence_length(data, custom_data=None) -> int | None:
  if data.task == 'custom':
    return None if custom_data.vocab_size is None else 0
  if data.task == 'sparse_parity':
    return data.n if data.get('as_tokens', False) else None
  if data.task == 'text_mlm':
    return data.seq_len
  seq = pcfg.load(data.grammar).seq_len
  return seq - 1 if data.task == 'pcfg_next_token' else seq


def _validate_run(config, run: str, seq: int | None) -> None:
  _choice(config, f'{run}.model.name', models.MODEL_NAMES)
  model = _get(config, f'{run}.model')
  if model.name == 'linen':
    _require(bool(model.get('module')), f'{run}.model.module',
             'is empty: name a Flax Linen module class, "pkg.mod:Class" or '
             '"/path/script.py:Class"')
    references.resolve(model.module, f'{run}.model.module')  # names the field if missing
    try:
      models.build(model, None)
    except TypeError as e:
      raise ConfigError(f'{run}.model.kwargs', f'do not fit {model.module}: {e}') from None
  elif model.name == 'mlp':
    hidden = model.hidden
    _require(len(hidden) > 0 and all(isinstance(h, int) and h > 0 for h in hidden),
             f'{run}.model.hidden',
             f'must be a non-empty tuple of positive widths, got {hidden!r}')
    _require(seq is None, f'{run}.model.name',
             f"'mlp' takes real-valued inputs but data.task={config.data.task!r} gives tokens; "
             "use 'gpt2' or 'bert'")
  elif model.name in ('gpt2', 'bert'):
    for field in ('width', 'depth', 'num_heads', 'max_len'):
      _positive(config, f'{run}.model.{field}')
    if 'attention' in model:
      _choice(config, f'{run}.model.attention', transformer.ATTENTION)
    if 'dtype' in model:
      _choice(config, f'{run}.model.dtype', tuple(transformer.DTYPES))
    _require(model.width % model.num_heads == 0, f'{run}.model.num_heads',
             f'{model.num_heads} heads do not divide width {model.width}')
    _require(seq is not None, 'data.as_tokens',
             f'model {model.name!r} needs token inputs: set data.as_tokens=True')
    _require(config.data.task == 'custom' or model.max_len >= seq, f'{run}.model.max_len',
             f'{model.max_len} is shorter than the task\'s sequences ({seq} tokens)')
  _choice(config, f'{run}.optim.name', optimizers.OPTIMIZERS)
  _choice(config, f'{run}.optim.lr_schedule', optimizers.LR_SCHEDULES)
  _positive(config, f'{run}.optim.learning_rate')
  warm = _get(config, f'{run}.optim.warmup_frac')
  _require(0 <= warm < 1, f'{run}.optim.warmup_frac', f'must be in [0, 1), got {warm!r}')
  _positive(config, f'{run}.batch_size')
  _positive(config, f'{run}.num_steps')
  _positive(config, f'{run}.trajectory_every_steps', allow_zero=True)
  if run == 'teacher':
    _positive(config, 'teacher.trajectory_every_steps')


def _validate_schedule(config) -> None:
  schedule = config.student.schedule
  _choice(config, 'student.schedule.kind', schedules.SCHEDULE_KINDS)
  if schedule.kind == 'manual':
    checkpoints, per = tuple(schedule.checkpoints), tuple(schedule.steps_per_checkpoint)
    _require(len(checkpoints) >= 1, 'student.schedule.checkpoints', 'is empty')
    _require(len(per) == len(checkpoints) - 1, 'student.schedule.steps_per_checkpoint',
             f'needs one entry per checkpoint except the last ({len(checkpoints) - 1}), '
             f'got {per!r}')
    _require(all(p > 0 for p in per), 'student.schedule.steps_per_checkpoint',
             f'entries must be positive, got {per!r}')
    _require(sum(per) < config.student.num_steps, 'student.schedule.steps_per_checkpoint',
             f'sums to {sum(per)} >= student.num_steps={config.student.num_steps}, so the last '
             'checkpoint would never be used')
  elif schedule.kind == 'auto':
    _positive(config, 'student.schedule.auto_points')
    _choice(config, 'student.schedule.auto_metric', tuple(phase_transition.RISING))
    per = tuple(schedule.steps_per_checkpoint)
    _require(len(per) == schedule.auto_points and all(p > 0 for p in per),
             'student.schedule.steps_per_checkpoint',
             f'auto needs one positive entry per proposed checkpoint (auto_points='
             f'{schedule.auto_points}), got {per!r}')
  else:
    _positive(config, 'student.schedule.multiplier')


def _validate_curriculum(config) -> None:
  _require(config.student.model.name != 'linen', 'student.model.name',
           "curriculum extraction matches hidden layers of pdistill's own models (mlp, gpt2, "
           "bert); a 'linen' model can be trained by ce, one_shot or progressive")
  cur = config.student.curriculum
  layers, steps = tuple(cur.teacher_layers), tuple(cur.stage_steps)
  _require(len(layers) >= 1 and all(isinstance(l, int) and l >= 0 for l in layers),
           'student.curriculum.teacher_layers',
           f'must be a non-empty tuple of teacher hidden-layer indices, got {layers!r}')
  _require(len(steps) == len(layers) and all(n > 0 for n in steps),
           'student.curriculum.stage_steps',
           f'needs one positive length per teacher layer ({len(layers)}), got {steps!r}')
  _require(sum(steps) < config.student.num_steps, 'student.curriculum.stage_steps',
           f'sums to {sum(steps)} >= student.num_steps={config.student.num_steps}, leaving no '
           'output-distillation stage')


def _validate_sweep(config) -> None:
  rates, seeds = tuple(_get(config, 'sweep.learning_rates')), tuple(_get(config, 'sweep.seeds'))
  if not rates and not seeds:
    return
  _require(config.method != 'pipeline', 'sweep',
           f'a sweep trains one method; set method to one of {METHODS[1:]} (got pipeline)')
  _require(all(isinstance(r, (int, float)) and r > 0 for r in rates), 'sweep.learning_rates',
           f'must be positive numbers, got {rates!r}')
  _require(len(set(rates)) == len(rates), 'sweep.learning_rates', f'has repeats: {rates!r}')
  _require(all(isinstance(s, int) and s >= 0 for s in seeds), 'sweep.seeds',
           f'must be non-negative integers, got {seeds!r}')
  _require(len(set(seeds)) == len(seeds), 'sweep.seeds', f'has repeats: {seeds!r}')
