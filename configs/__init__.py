"""Experiment configs, one file per experiment (installed with the wheel as pdistill.configs)."""
