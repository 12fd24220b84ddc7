"""Networks built from core's :class:`ndebench.models.ModelSpec`, loading core's numpy weights.

Each part (``vector_field``, ``encoder``, ``head``, ...) is an :class:`MLPModule`; parameter
``"<part>.<i>.weight"`` of core's :func:`ndebench.init.init_params` (shape (out, in), ``in``
including the time input) is loaded into ``parts[<part>].layers[<i>].weight`` as is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ndebench.models import MLP, ModelSpec

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "gelu": F.gelu,
    "identity": None,
}


class MLPModule(nn.Module):
    """``x -> act(W [x, t] + b)`` per layer; ``t`` (0-d tensor) is used by layers with
    ``time_input``. One module call, functional layers (few python calls per evaluation)."""

    def __init__(self, spec: MLP) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(d.in_features + int(d.time_input), d.out_features, bias=d.bias)
            for d in spec.layers
        )
        self._acts = [ACTIVATIONS[d.activation] for d in spec.layers]
        self._time = [d.time_input for d in spec.layers]
        self.time_input = any(self._time)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        for layer, act, timed in zip(self.layers, self._acts, self._time, strict=True):
            if timed:
                assert t is not None, "this MLP takes the time as input"
                x = torch.cat([x, t.to(x).expand(*x.shape[:-1], 1)], dim=-1)
            x = F.linear(x, layer.weight, layer.bias)  # type: ignore[arg-type]
            if act is not None:
                x = act(x)
        return x


def build_parts(
    spec: ModelSpec,
    params: dict[str, np.ndarray],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> nn.ModuleDict:
    """One :class:`MLPModule` per part of ``spec``, with core's initial weights loaded."""
    parts = nn.ModuleDict({name: MLPModule(mlp) for name, mlp in sorted(spec.parts.items())})
    parts = parts.to(dtype=dtype, device=device)
    load_params(parts, params)  # after the cast: float64 weights load without rounding
    return parts


def core_parameters(parts: nn.ModuleDict) -> dict[str, nn.Parameter]:
    """The parameters under core's names (``"<part>.<i>.weight"``)."""
    return {k.replace(".layers.", ".", 1): p for k, p in parts.named_parameters()}


@torch.no_grad()
def load_params(parts: nn.ModuleDict, params: dict[str, np.ndarray]) -> None:
    """Copy ``"<part>.<i>.weight|bias"`` arrays into the modules; every name must match."""
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
