"""Adjoints of the JAX backend (diffrax adjoints)."""
