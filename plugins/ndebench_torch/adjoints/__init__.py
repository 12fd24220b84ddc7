"""Adjoints: how the gradient of a loss through a solve is obtained."""
