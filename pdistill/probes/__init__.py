"""Probes of what a model learned: parity monomial correlations (more with the PCFG probes)."""
