"""``method=pipeline``: the teacher, then each student method against it, then the comparison plot.

Layout: ``WORKDIR/teacher`` (trained with ``config.seed``), ``WORKDIR/<method>/seed_<s>`` for
each entry of ``config.pipeline_methods`` (``progressive:KIND`` runs progressive with schedule
kind KIND, in ``progressive_KIND/``) and each student seed in ``config.pipeline_student_seeds``, and ``WORKDIR/comparison.png`` plus
``WORKDIR/comparison.md`` (mean +- std over seeds).  Each run resumes on its own, so rerunning
the pipeline skips what is finished.
"""

from __future__ import annotations

import logging
import os

from pdistill.engine import train_run
from pdistill.metrics import plot
from pdistill.parallel import mesh

log = logging.getLogger('pdistill')


def run(config, workdir: str) -> dict:
  teacher_dir = os.path.join(workdir, 'teacher')
  teacher = config.copy_and_resolve_references()
  teacher.method = 'teacher'
  log.info('pipeline: teacher')
  results = {'teacher': train_run(teacher, teacher_dir)}
  runs = {}
  for entry in config.pipeline_methods:
    method, _, kind = entry.partition(':')  # e.g. progressive:auto
    label = f'{method}_{kind}' if kind else method
    for seed in config.pipeline_student_seeds:
      sub = config.copy_and_resolve_references()
      sub.method, sub.seed = method, seed
      sub.student.teacher_workdir = teacher_dir
      if kind:
        sub.student.schedule.kind = kind
      name = os.path.join(label, f'seed_{seed}')
      log.info('pipeline: %s', name)
      results[name] = train_run(sub, os.path.join(workdir, name))
      runs.setdefault(label, []).append(os.path.join(workdir, name))
  if not mesh.is_writer():
    return results
  out = plot.plot_comparison(runs, os.path.join(workdir, 'comparison.png'),
                             teacher_workdir=teacher_dir)
  table = plot.accuracy_table(runs, plot.budgets(config.student.num_steps))
  with open(os.path.join(workdir, 'comparison.md'), 'w') as f:
    f.write(table + '\n')
  log.info('pipeline: wrote %s and comparison.md\n%s', out, table)
  return results

