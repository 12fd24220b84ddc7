"""Per-sample times -> the ``t`` argument of core's field ``f(t: float, y)``.

torchode calls ``f(t, y)`` with ``t`` of shape (B,), one time per sample. Core's field takes
one float. When all samples are at the same time, ``f`` gets that float. Otherwise it depends
on whether the field is time-dependent, which the field declares as ``time_input``
(:class:`ndebench_torch.vector_field.AbstractField`; wrappers such as the regularizers'
augmented fields forward the declaration of the field they wrap):

- ``time_input = True``: ``f`` gets ``t`` as a (B, 1) tensor, which the torch backend's MLP
  layers broadcast per sample, so each sample sees its own time;
- ``time_input = False``, or a plain callable (declares nothing: autonomous): the field
  ignores ``t``; it gets the first sample's time (a float).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from ndebench_torch.vector_field import time_input_of

Field = Callable[[float, torch.Tensor], torch.Tensor]


def per_sample_field(f: Field) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``g(t, y)`` for torchode (``t`` of shape (B,)) calling ``f`` once per batched call."""
    timed = time_input_of(f)

    def g(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        t = t.detach()  # step-size control is not differentiated (as in core's solvers)
        if timed and t.numel() > 1 and not bool((t == t[0]).all()):
            return f(t[:, None], y)  # type: ignore[arg-type]
        return f(float(t[0]), y)

    return g
