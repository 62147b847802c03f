"""``method=pipeline``: the teacher, then each student method against it, then the comparison plot.

Layout: ``WORKDIR/teacher`` (trained with ``config.seed``; a pipeline given
``student.teacher_workdir`` trains none and distils from that one), ``WORKDIR/<method>/seed_<s>``
for each entry of ``config.pipeline_methods`` (``progressive:KIND`` runs progressive with schedule
kind KIND, in ``progressive_KIND/``; ``progressive:CxT`` the (2, T) schedule from checkpoint C,
in ``progressive_C_T/``; ``@LOSS`` adds a divergence, e.g. ``one_shot@jsd/``:
``config.pipeline_entry``) and each student seed in
``config.pipeline_student_seeds``, and ``WORKDIR/comparison.png`` plus ``WORKDIR/comparison.md``
(mean +- std over seeds at fixed budgets, and, when the teacher reaches 99%, each seed's first
step at 99% beside the teacher's, and the claims over (teacher, student seed) pairs:
``metrics.claims``).  With ``pipeline_teacher_seeds`` it trains one teacher per seed, in
``WORKDIR/teachers/seed_<t>``, and every student once per (teacher, student seed), in
``WORKDIR/<method>/teacher_<t>/seed_<s>``; a teacher that did not learn is reported, and its
students are not trained (a single teacher that did not learn stops the pipeline instead).  A PCFG masked-LM pipeline also writes Figure 4
(``pcfg_phases.png``) and the Figure 5 probe table (``pcfg_probes.md``): probes.pcfg_report.
Each run resumes on its own, so rerunning the pipeline skips what is finished.
"""

from __future__ import annotations

import logging
import os

from pdistill import config as config_lib
from pdistill.config import ConfigError
from pdistill.distill import phase_transition
from pdistill.engine import train_run
from pdistill.metrics import claims, plot
from pdistill.parallel import mesh
from pdistill.probes import pcfg_report
from pdistill.storage import run_lock

log = logging.getLogger('pdistill')

REACH = 0.99  # "learned" in the comparison's steps-to-accuracy table


def teachers(config, workdir: str) -> dict[int | None, str]:
  """Each teacher's seed and workdir: the given ``student.teacher_workdir`` (seed None), the
  pipeline's own teacher (``config.seed``, in ``teacher/``), or one per
  ``pipeline_teacher_seeds`` (in ``teachers/seed_<t>``)."""
  if config.student.teacher_workdir:
    return {None: config.student.teacher_workdir}
  seeds = tuple(config.get('pipeline_teacher_seeds', ()))
  if not seeds:
    return {None: os.path.join(workdir, 'teacher')}
  return {t: os.path.join(workdir, 'teachers', f'seed_{t}') for t in seeds}


def student_name(label: str, teacher_seed: int | None, seed: int) -> str:
  """A student's folder: ``LABEL/seed_S``, or ``LABEL/teacher_T/seed_S`` with several
  teachers; the part after LABEL names its (teacher, student seed) pair."""
  pair = f'seed_{seed}' if teacher_seed is None else f'teacher_{teacher_seed}/seed_{seed}'
  return os.path.join(label, pair)


def run(config, workdir: str) -> dict:
  results = {}
  found = teachers(config, workdir)
  several = len(found) > 1
  learned = {}
  for teacher_seed, teacher_dir in found.items():
    if config.student.teacher_workdir:  # a finished teacher, e.g. another pipeline's
      log.info('pipeline: the teacher in %s', teacher_dir)
    else:
      teacher = config.copy_and_resolve_references()
      teacher.method = 'teacher'
      if teacher_seed is not None:
        teacher.seed = teacher_seed
      name = os.path.relpath(teacher_dir, workdir)
      log.info('pipeline: %s', name)
      results[name] = train_run(teacher, teacher_dir)
    reason = None
    if not config.get('pipeline_distil_unlearned_teacher', False):
      reason = phase_transition.did_not_learn(teacher_dir, config.student.schedule.auto_metric)
    if reason and not several:
      raise ConfigError('pipeline_distil_unlearned_teacher',
                        f'{reason}; no student is trained from it (set this to True to train '
                        'them anyway)')
    if reason:
      log.warning('pipeline: %s; its students are not trained, and the report counts it', reason)
    learned[teacher_seed] = reason is None
  runs, pairs = {}, {}
  for entry in config.pipeline_methods:
    method, label, updates = config_lib.pipeline_entry(entry)  # e.g. progressive:auto@jsd
    for teacher_seed, teacher_dir in found.items():
      if not learned[teacher_seed]:
        continue
      for seed in config.pipeline_student_seeds:
        sub = config.copy_and_resolve_references()
        sub.method, sub.seed = method, seed
        sub.student.teacher_workdir = teacher_dir
        config_lib.apply_entry(sub, updates)
        name = student_name(label, teacher_seed, seed)
        log.info('pipeline: %s', name)
        results[name] = train_run(sub, os.path.join(workdir, name))
        runs.setdefault(label, []).append(os.path.join(workdir, name))
        pairs.setdefault(label, {})[os.path.relpath(name, label)] = (
            os.path.join(workdir, name), teacher_dir)
  if not mesh.is_writer():
    return results
  if run_lock.read_only(workdir):  # finished (train_run refuses otherwise): keep what is there
    log.info('pipeline: read-only workdir %s; its comparison.png and comparison.md stay as '
             'they are', workdir)
    return results
  teacher_dirs = [d for t, d in found.items() if learned[t]] or list(found.values())
  out = plot.plot_comparison(runs, os.path.join(workdir, 'comparison.png'),
                             teacher_workdir=teacher_dirs if several else teacher_dirs[0])
  table = plot.accuracy_table(runs, plot.budgets(config.student.num_steps))
  reach = {d: plot.first_reach(d, REACH) for d in found.values()}
  if several:
    unlearned = [d for t, d in found.items() if not learned[t]]
    table = (f'{len(found) - len(unlearned)} of {len(found)} teachers learned'
             + (f' (not: {", ".join(unlearned)}; their students were not trained)'
                if unlearned else '') + '.\n\n' + table)
  if any(reach.values()):
    if not several:
      table += (f'\n\nFirst step at which eval accuracy reaches {REACH:.0%} (— = not within '
                'the run):\n\n' + plot.first_reach_table(runs, REACH,
                                                          teacher_workdir=teacher_dirs[0]))
    firsts = {label: {pair: plot.first_reach(student, REACH)
                      for pair, (student, _) in by_pair.items()}
              for label, by_pair in pairs.items()}
    teacher_firsts = {pair: reach[teacher] for by_pair in pairs.values()
                      for pair, (_, teacher) in by_pair.items()}
    table += (f'\n\nOver (teacher, student seed) pairs, {REACH:.0%} eval accuracy:\n\n'
              + claims.claims_table(firsts, teacher_firsts, REACH))
  with open(os.path.join(workdir, 'comparison.md'), 'w') as f:
    f.write(table + '\n')
  log.info('pipeline: wrote %s and comparison.md\n%s', out, table)
  if config.data.task == 'pcfg_mlm':
    schedule = config.student.schedule
    first = schedule.checkpoints[0]
    manual = first if schedule.kind == 'manual' and first >= 0 else None
    log.info('pipeline: PCFG probes (Figure 4 and 5)\n%s',
             pcfg_report.write(workdir, teacher_dirs[0], runs, manual))
  return results

