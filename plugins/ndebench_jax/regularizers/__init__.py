"""Regularizers of the JAX backend: which per-step estimate the solver accumulates, and how."""
