"""Tasks and their data: every batch a pure function of (seed, step); eval sets of their own stream.

``tasks.build(config.data, batch_size)`` is the entry; ``parity``, ``pcfg``, ``text`` and
``mlm_masking`` are the generators; ``streams`` owns the seeding rules all of them share.
"""
