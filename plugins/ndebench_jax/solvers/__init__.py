"""Solvers of the JAX backend (diffrax solvers, wrapped or as-is)."""
