"""``method=pipeline``: the teacher, then each student method against it, then the comparison plot.

Layout: ``WORKDIR/teacher`` (trained with ``config.seed``; a pipeline given
``student.teacher_workdir`` trains none and distils from that one), ``WORKDIR/<method>/seed_<s>``
for each entry of ``config.pipeline_methods`` (``progressive:KIND`` runs progressive with schedule
kind KIND, in ``progressive_KIND/``; ``progressive:CxT`` the (2, T) schedule from checkpoint C,
in ``progressive_C_T/``; ``@LOSS`` adds a divergence, e.g. ``one_shot@jsd/``:
``config.pipeline_entry``) and each student seed in
``config.pipeline_student_seeds``, and ``WORKDIR/comparison.png`` plus ``WORKDIR/comparison.md``
(mean +- std over seeds at fixed budgets, and, when the teacher reaches 99%, each seed's first
step at 99% beside the teacher's).  A PCFG masked-LM pipeline also writes Figure 4
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
from pdistill.metrics import plot
from pdistill.parallel import mesh
from pdistill.probes import pcfg_report
from pdistill.storage import run_lock

log = logging.getLogger('pdistill')

REACH = 0.99  # "learned" in the comparison's steps-to-accuracy table


def run(config, workdir: str) -> dict:
  results = {}
  teacher_dir = config.student.teacher_workdir
  if teacher_dir:  # a finished teacher, e.g. another pipeline's: its students are compared here
    log.info('pipeline: the teacher in %s', teacher_dir)
  else:
    teacher_dir = os.path.join(workdir, 'teacher')
    teacher = config.copy_and_resolve_references()
    teacher.method = 'teacher'
    log.info('pipeline: teacher')
    results['teacher'] = train_run(teacher, teacher_dir)
  if not config.get('pipeline_distil_unlearned_teacher', False):
    reason = phase_transition.did_not_learn(teacher_dir, config.student.schedule.auto_metric)
    if reason:
      raise ConfigError('pipeline_distil_unlearned_teacher',
                        f'{reason}; no student is trained from it (set this to True to train '
                        'them anyway)')
  runs = {}
  for entry in config.pipeline_methods:
    method, label, updates = config_lib.pipeline_entry(entry)  # e.g. progressive:auto@jsd
    for seed in config.pipeline_student_seeds:
      sub = config.copy_and_resolve_references()
      sub.method, sub.seed = method, seed
      sub.student.teacher_workdir = teacher_dir
      config_lib.apply_entry(sub, updates)
      name = os.path.join(label, f'seed_{seed}')
      log.info('pipeline: %s', name)
      results[name] = train_run(sub, os.path.join(workdir, name))
      runs.setdefault(label, []).append(os.path.join(workdir, name))
  if not mesh.is_writer():
    return results
  if run_lock.read_only(workdir):  # finished (train_run refuses otherwise): keep what is there
    log.info('pipeline: read-only workdir %s; its comparison.png and comparison.md stay as '
             'they are', workdir)
    return results
  out = plot.plot_comparison(runs, os.path.join(workdir, 'comparison.png'),
                             teacher_workdir=teacher_dir)
  table = plot.accuracy_table(runs, plot.budgets(config.student.num_steps))
  if plot.first_reach(teacher_dir, REACH) is not None:
    table += (f'\n\nFirst step at which eval accuracy reaches {REACH:.0%} (— = not within the '
              'run):\n\n' + plot.first_reach_table(runs, REACH, teacher_workdir=teacher_dir))
  with open(os.path.join(workdir, 'comparison.md'), 'w') as f:
    f.write(table + '\n')
  log.info('pipeline: wrote %s and comparison.md\n%s', out, table)
  if config.data.task == 'pcfg_mlm':
    schedule = config.student.schedule
    first = schedule.checkpoints[0]
    manual = first if schedule.kind == 'manual' and first >= 0 else None
    log.info('pipeline: PCFG probes (Figure 4 and 5)\n%s',
             pcfg_report.write(workdir, teacher_dir, runs, manual))
  return results

