"""Seeded initial parameters in numpy, shared by every backend.

Parameter names are ``"<part>.<layer index>.weight"`` with shape ``(out, in)`` (``in``
includes the time input when the layer has one) and ``"<part>.<layer index>.bias"`` with
shape ``(out,)``. Values follow PyTorch's default ``nn.Linear`` rule, U(-1/sqrt(in),
1/sqrt(in)), drawn from one ``numpy.random.Generator`` seeded by ``(seed, part index)``, so a
torch cell and a JAX cell with the same seed start from identical weights.
"""

from __future__ import annotations

import numpy as np

from ndebench.models import ModelSpec


def init_params(spec: ModelSpec, seed: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for part_index, (part, mlp) in enumerate(sorted(spec.parts.items())):
        rng = np.random.default_rng([int(seed), 7919, part_index])
        for i, layer in enumerate(mlp.layers):
            fan_in = layer.in_features + (1 if layer.time_input else 0)
            bound = 1.0 / np.sqrt(fan_in)
            w = rng.uniform(-bound, bound, size=(layer.out_features, fan_in))
            params[f"{part}.{i}.weight"] = w.astype(dtype)
            if layer.bias:
                params[f"{part}.{i}.bias"] = rng.uniform(-bound, bound, layer.out_features).astype(
                    dtype
                )
    return params
