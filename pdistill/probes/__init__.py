"""Probes of what a frozen model learned: parity monomial correlations, PCFG n-gram metrics and
non-terminal linear probes.  Each reads runs through ``pdistill.saved_run``."""
