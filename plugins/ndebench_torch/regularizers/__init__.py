"""Regularizers: observers of the solver's accepted steps that produce a differentiable R."""
