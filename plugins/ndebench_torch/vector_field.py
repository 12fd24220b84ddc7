"""The field type and the counted vector field, the one place where NFE are counted
(docs/methods.md "Counting NFE").

:class:`AbstractField` is the one torch field type: a field declares, as data, whether it has
a diffusion (an SDE) and whether it takes the time as an input, and every wrapper forwards the
declarations of the field it wraps (:class:`WrappedField`), so no solver, adjoint or
regularizer has to look inside a callable to find them. A plain callable ``f(t, z)`` (tests,
an adjoint's backward system) is an autonomous ODE field: :func:`diffusion_of` and
:func:`time_input_of` read the declarations of a field and those defaults of any other callable.

``nfe_forward`` is incremented on every call; ``nfe_backward`` each time the output of an
evaluation receives its gradient during a backward pass (a tensor hook, registered only when
the output is part of an autograd graph, so no-grad solves pay nothing for it). Evaluations
whose outputs get no gradient (Hairer's probe step, rejected attempts) count forward only.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

FieldFn = Callable[[Any, torch.Tensor], torch.Tensor]


class AbstractField(abc.ABC):
    """``f(t, z)`` for the solvers, with its declarations."""

    #: the diagonal diffusion ``g(t, z)`` of an SDE; None: an ODE (or zero diffusion)
    diffusion: FieldFn | None = None
    #: whether f depends on t: torchode then passes each sample its own time, a (B, 1) tensor
    time_input: bool = False
    #: whether the module evaluated is ``torch.compile``'d (no double backward through it)
    compiled: bool = False

    @abc.abstractmethod
    def __call__(self, t: Any, z: torch.Tensor) -> torch.Tensor:
        """The drift at (t, z)."""


def diffusion_of(f: Callable[..., Any]) -> FieldFn | None:
    """The declared diffusion of ``f`` (None for an ODE field or a plain callable)."""
    return f.diffusion if isinstance(f, AbstractField) else None


def time_input_of(f: Callable[..., Any]) -> bool:
    """Whether ``f`` declares time input (False for a plain callable: autonomous)."""
    return f.time_input if isinstance(f, AbstractField) else False


class WrappedField(AbstractField):
    """``fn(t, z)``, a function of the ODE field ``of`` (e.g. an augmented state), declaring
    what ``of`` declares about time; an ODE field (no diffusion)."""

    def __init__(self, fn: FieldFn, of: Callable[..., Any]) -> None:
        self.fn = fn
        self.time_input = time_input_of(of)

    def __call__(self, t: Any, z: torch.Tensor) -> torch.Tensor:
        return self.fn(t, z)


class CountedField(AbstractField):
    """Wraps a module ``m(z)`` or ``m(z, t)`` (time input), counting its evaluations."""

    def __init__(
        self,
        module: nn.Module | Callable[..., Any],
        time_input: bool = False,
        compiled: bool = False,
    ) -> None:
        self.module = module
        self.time_input = time_input
        self.compiled = compiled
        self.nfe_forward = 0
        self.nfe_backward = 0

    def reset(self) -> None:
        self.nfe_forward = 0
        self.nfe_backward = 0

    def _count_backward(self, grad: torch.Tensor) -> None:
        self.nfe_backward += 1

    def __call__(self, t: float | torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe_forward += 1
        if self.time_input:
            out = self.module(z, torch.as_tensor(t, dtype=z.dtype, device=z.device))
        else:
            out = self.module(z)
        if out.requires_grad:
            out.register_hook(self._count_backward)
        return out  # type: ignore[no-any-return]
