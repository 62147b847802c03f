"""Experiment configs: one file per experiment, variants as options (installed as ``pdistill.configs``)."""
