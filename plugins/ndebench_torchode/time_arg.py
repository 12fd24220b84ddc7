"""Per-sample times -> the ``t`` argument of core's field ``f(t: float, y)``.

torchode calls ``f(t, y)`` with ``t`` of shape (B,), one time per sample. Core's field takes
one float. When all samples are at the same time, ``f`` gets that float. Otherwise it depends
on whether the field is time-dependent, which the torch backend's ``CountedField`` declares
as ``time_input``. Wrappers (the regularizers' augmented fields, the kit's reference field)
do not declare it, so the declaration is looked up in the wrapper's closure and in callable
attributes (a few levels deep) as well:

- ``time_input = True``: ``f`` gets ``t`` as a (B, 1) tensor, which the torch backend's MLP
  layers broadcast per sample, so each sample sees its own time;
- ``time_input = False``: the field ignores ``t``; it gets the first sample's time (a float);
- nothing declared anywhere: the callable is taken to be autonomous (first sample's time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Field = Callable[[float, torch.Tensor], torch.Tensor]


def declared_time_input(f: Any, depth: int = 4) -> bool | None:
    """``time_input`` of ``f`` or of a field it wraps (True if any wrapped field is timed)."""
    value = getattr(f, "time_input", None)
    if isinstance(value, bool):
        return value
    if depth == 0:
        return None
    inner: list[Any] = []
    for cell in getattr(f, "__closure__", None) or ():
        try:
            inner.append(cell.cell_contents)
        except ValueError:  # empty cell
            continue
    if not hasattr(f, "__code__") and hasattr(f, "__dict__"):  # a callable object
        inner += [v for v in vars(f).values() if callable(v)]
    if hasattr(f, "__self__"):
        inner.append(f.__self__)
    found = [declared_time_input(obj, depth - 1) for obj in inner if callable(obj)]
    known = [v for v in found if v is not None]
    return any(known) if known else None


def per_sample_field(f: Field) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``g(t, y)`` for torchode (``t`` of shape (B,)) calling ``f`` once per batched call."""
    timed = bool(declared_time_input(f))

    def g(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        t = t.detach()  # step-size control is not differentiated (as in core's solvers)
        if timed and t.numel() > 1 and not bool((t == t[0]).all()):
            return f(t[:, None], y)  # type: ignore[arg-type]
        return f(float(t[0]), y)

    return g
