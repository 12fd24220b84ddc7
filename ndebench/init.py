"""Seeded initial parameters in numpy, shared by every backend.

Parameter names are ``"<part>.<layer index>.<name>"`` (nested :class:`ndebench.models.Concat`
branches add ``".<branch index>.<layer index>"``), shapes in PyTorch's layout:

- Dense ``weight`` (out, in [+1 for t]) and ``bias`` (out,); Conv2d ``weight``
  (out, in [+1], k, k) and ``bias``: PyTorch's default rule U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  with fan_in = in [+1] x k x k;
- BatchNorm/GroupNorm ``weight`` = 1, ``bias`` = 0;
- GRUCell ``weight_ih`` (3H, in), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,):
  U(-1/sqrt(H), 1/sqrt(H)) as ``nn.GRUCell``.

Values are drawn in the order of :func:`parameter_shapes` from one
``numpy.random.Generator`` per part, seeded by ``(seed, part index)`` over the sorted part
names, so a torch cell and a JAX cell with the same seed start from identical weights.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ndebench.models import (
    BatchNorm,
    Chain,
    Concat,
    Conv2d,
    Dense,
    GroupNorm,
    GRUCell,
    ModelSpec,
)

#: how a parameter is drawn: ("uniform", bound) | ("ones",) | ("zeros",)
Rule = tuple[str, float]


def parameter_shapes(chain: Chain, prefix: str) -> Iterator[tuple[str, tuple[int, ...], Rule]]:
    """(name, shape, rule) of every parameter of ``chain``, in drawing order."""
    for i, layer in enumerate(chain.layers):
        name = f"{prefix}.{i}"
        if isinstance(layer, Dense):
            fan_in = layer.in_features + int(layer.time_input)
            rule = ("uniform", 1.0 / np.sqrt(fan_in))
            yield f"{name}.weight", (layer.out_features, fan_in), rule
            if layer.bias:
                yield f"{name}.bias", (layer.out_features,), rule
        elif isinstance(layer, Conv2d):
            c_in = layer.in_channels + int(layer.time_input)
            k = layer.kernel_size
            rule = ("uniform", 1.0 / np.sqrt(c_in * k * k))
            yield f"{name}.weight", (layer.out_channels, c_in, k, k), rule
            if layer.bias:
                yield f"{name}.bias", (layer.out_channels,), rule
        elif isinstance(layer, BatchNorm | GroupNorm):
            n = layer.num_features if isinstance(layer, BatchNorm) else layer.num_channels
            yield f"{name}.weight", (n,), ("ones", 0.0)
            yield f"{name}.bias", (n,), ("zeros", 0.0)
        elif isinstance(layer, GRUCell):
            h = layer.hidden_size
            rule = ("uniform", 1.0 / np.sqrt(h))
            yield f"{name}.weight_ih", (3 * h, layer.input_size), rule
            yield f"{name}.weight_hh", (3 * h, h), rule
            yield f"{name}.bias_ih", (3 * h,), rule
            yield f"{name}.bias_hh", (3 * h,), rule
        elif isinstance(layer, Concat):
            for b, branch in enumerate(layer.branches):
                yield from parameter_shapes(branch, f"{name}.{b}")


def init_params(spec: ModelSpec, seed: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for part_index, (part, chain) in enumerate(sorted(spec.parts.items())):
        rng = np.random.default_rng([int(seed), 7919, part_index])
        for name, shape, (rule, bound) in parameter_shapes(chain, part):
            if rule == "uniform":
                value = rng.uniform(-bound, bound, size=shape)
            elif rule == "ones":
                value = np.ones(shape)
            else:
                value = np.zeros(shape)
            params[name] = value.astype(dtype)
    return params
