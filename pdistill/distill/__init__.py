"""The distillation domain: what a student learns from, and when.

* ``divergences``: the ``student.loss`` vocabulary (forward/reverse KL, JSD, skew KLs, TVD,
  TAID) and the objective a student's steps minimise;
* ``schedules``: which teacher checkpoint (or curriculum stage) serves each student step;
* ``phase_transition``: where a teacher's eval curve rises (the ``auto`` schedule's choice);
* ``teacher``: finds a teacher run, owns the schedule kinds, loads the checkpoints stacked;
* ``curriculum``: curriculum extraction from the final teacher (Gupta & Karmalkar 2025).

Layers inside (``.importlinter``): teacher and curriculum use the three below them.
"""
