"""Networks built from core's :class:`ndebench.models.ModelSpec`, loading core's numpy weights.

Each part (``vector_field``, ``encoder``, ``head``, ...) is a :class:`ChainModule` whose
``layers`` hold one module per core layer; core's parameter ``"<part>.<i>.<name>"``
(:mod:`ndebench.init`) is ``parts[<part>].layers[<i>].<name>`` here (nested Concat branches:
``.layers[<i>].branches[<b>].layers[<j>]``). Layers compute with ``torch.nn.functional`` on the
module's parameters, so one evaluation is a handful of kernel calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ndebench import models as m

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "gelu": F.gelu,
    "identity": None,
}


def _with_time(x: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
    """Append t as one more feature (2-D input) or constant channel (4-D input)."""
    assert t is not None, "this layer takes the time as input"
    shape = (x.shape[0], 1, *x.shape[2:]) if x.dim() == 4 else (*x.shape[:-1], 1)
    return torch.cat([x, t.to(x).expand(shape)], dim=1 if x.dim() == 4 else -1)


class LayerModule(nn.Module):
    """One core layer; ``forward(x, t)``."""

    def __init__(self, spec: m.Layer) -> None:
        super().__init__()
        self.spec = spec
        if isinstance(spec, m.Dense):
            fan_in = spec.in_features + int(spec.time_input)
            self.weight = nn.Parameter(torch.empty(spec.out_features, fan_in))
            self.bias = nn.Parameter(torch.empty(spec.out_features)) if spec.bias else None
        elif isinstance(spec, m.Conv2d):
            c_in, k = spec.in_channels + int(spec.time_input), spec.kernel_size
            self.weight = nn.Parameter(torch.empty(spec.out_channels, c_in, k, k))
            self.bias = nn.Parameter(torch.empty(spec.out_channels)) if spec.bias else None
        elif isinstance(spec, m.BatchNorm | m.GroupNorm):
            n = spec.num_features if isinstance(spec, m.BatchNorm) else spec.num_channels
            self.weight = nn.Parameter(torch.ones(n))
            self.bias = nn.Parameter(torch.zeros(n))
        elif isinstance(spec, m.GRUCell):
            h = spec.hidden_size
            self.weight_ih = nn.Parameter(torch.empty(3 * h, spec.input_size))
            self.weight_hh = nn.Parameter(torch.empty(3 * h, h))
            self.bias_ih = nn.Parameter(torch.empty(3 * h))
            self.bias_hh = nn.Parameter(torch.empty(3 * h))
        elif isinstance(spec, m.Concat):
            self.branches = nn.ModuleList(ChainModule(b) for b in spec.branches)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        return self.function()(x, t)

    def function(
        self, params: Mapping[str, torch.Tensor] | None = None
    ) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """The layer as a closure over its parameter tensors (no module lookups per call), or
        over ``params`` (named as ``named_parameters()`` names them) in their place."""
        s = self.spec
        if params is None:
            w, b = getattr(self, "weight", None), getattr(self, "bias", None)
        else:
            w, b = params.get("weight"), params.get("bias")
        act = ACTIVATIONS[getattr(s, "activation", "identity")]
        if isinstance(s, m.Dense | m.Conv2d):
            timed = s.time_input
            if isinstance(s, m.Dense):
                op: Callable[[torch.Tensor], torch.Tensor] = lambda x: F.linear(x, w, b)  # noqa: E731
            else:
                pad = s.padding
                op = lambda x: F.conv2d(x, w, b, padding=pad)  # noqa: E731

            def affine(x: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
                y = op(_with_time(x, t) if timed else x)
                return y if act is None else act(y)

            return affine
        if isinstance(s, m.BatchNorm | m.GroupNorm):
            eps = s.eps
            if isinstance(s, m.BatchNorm):
                norm = lambda x: F.batch_norm(x, None, None, w, b, training=True, eps=eps)  # noqa: E731
            else:
                groups = s.num_groups
                norm = lambda x: F.group_norm(x, groups, w, b, eps=eps)  # noqa: E731
            return lambda x, t: norm(x) if act is None else act(norm(x))
        if isinstance(s, m.Flatten):
            return lambda x, t: x.reshape(x.shape[0], -1)
        if isinstance(s, m.Reshape):
            shape = s.shape
            return lambda x, t: x.reshape(x.shape[0], *shape)
        if isinstance(s, m.Activation):
            fn = ACTIVATIONS[s.name]
            return lambda x, t: x if fn is None else fn(x)
        if isinstance(s, m.Concat):
            branches = [
                br.function(None if params is None else _under(params, f"branches.{i}."))
                for i, br in enumerate(self.branches)
            ]
            return lambda x, t: torch.cat([br(x, t) for br in branches], dim=1)
        raise TypeError(f"torch backend: layer {type(s).__name__} needs two inputs (GRU: gru())")

    def gru(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One :class:`ndebench.models.GRUCell` update (PyTorch's gate equations)."""
        return torch._VF.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class ChainModule(nn.Module):
    """``x -> layer_n(... layer_1(x, t) ..., t)``; t (0-d tensor) reaches time-input layers."""

    def __init__(self, spec: m.Chain) -> None:
        super().__init__()
        self.layers = nn.ModuleList(LayerModule(layer) for layer in spec.layers)
        self.time_input = spec.time_input
        self._fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor] | None = None

    def _apply(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._fn = None  # .to()/.double() may replace parameter tensors: rebuild closures
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        fn = self._fn
        if fn is None:
            fn = self._fn = self.function()
        return fn(x, t)

    def function(
        self, params: Mapping[str, torch.Tensor] | None = None
    ) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """The chain as closures over its parameter tensors (what ``forward`` caches), or over
        ``params`` (``named_parameters()``'s names) in their place: what ``torch.func``
        transforms differentiate (``functional_call`` cannot swap the cached closures' tensors)."""
        fns = [
            layer.function(None if params is None else _under(params, f"layers.{i}."))  # type: ignore[operator]
            for i, layer in enumerate(self.layers)
        ]

        def chain(x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
            for f in fns:
                x = f(x, t)
            return x

        return chain


def _under(params: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``params`` named under ``prefix``, without it."""
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def functional(
    module: nn.Module,
) -> Callable[[Mapping[str, torch.Tensor]], Callable[..., torch.Tensor]]:
    """``params -> (x, t=None) -> module's output`` computed with ``params`` (named as
    ``named_parameters()`` names them) instead of the module's tensors: a :class:`ChainModule`
    by its :meth:`~ChainModule.function`, any other module by ``torch.func.functional_call``."""
    if isinstance(module, ChainModule):
        return module.function

    def of(params: Mapping[str, torch.Tensor]) -> Callable[..., torch.Tensor]:
        def call(x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
            args = (x,) if t is None else (x, t)
            return torch.func.functional_call(module, dict(params), args)  # type: ignore[no-any-return]

        return call

    return of


def build_parts(
    spec: m.ModelSpec,
    params: dict[str, np.ndarray],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> nn.ModuleDict:
    """One :class:`ChainModule` per part of ``spec``, with core's initial weights loaded."""
    parts = nn.ModuleDict({name: ChainModule(chain) for name, chain in sorted(spec.parts.items())})
    parts = parts.to(dtype=dtype, device=device)
    load_params(parts, params)  # after the cast: float64 weights load without rounding
    return parts


_NESTING = re.compile(r"\.(layers|branches)\.")


def core_parameters(parts: nn.Module, prefix: str = "") -> dict[str, nn.Parameter]:
    """The parameters under core's names (``"<part>.<i>.weight"``)."""
    return {prefix + _NESTING.sub(".", k): p for k, p in parts.named_parameters()}


def block_parameters(parts: nn.ModuleDict, block: tuple[str, ...]) -> list[nn.Parameter]:
    """The parameters of the differential-equation block (``ModelSpec.block_parts``): the only
    ones a solver or a continuous adjoint may see."""
    return [p for name in block for p in parts[name].parameters()]


@torch.no_grad()
def load_params(parts: nn.ModuleDict, params: dict[str, np.ndarray]) -> None:
    """Copy core-named arrays into the modules; every name must match."""
    own = core_parameters(parts)
    if set(own) != set(params):
        missing, extra = set(own) - set(params), set(params) - set(own)
        raise ValueError(
            f"parameter names differ: missing {sorted(missing)}, extra {sorted(extra)}"
        )
    for name, value in params.items():
        target = own[name]
        if tuple(target.shape) != tuple(np.shape(value)):
            raise ValueError(f"{name}: shape {np.shape(value)} != {tuple(target.shape)}")
        target.copy_(torch.as_tensor(np.asarray(value)))
