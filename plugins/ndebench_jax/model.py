"""Networks from core's :class:`ndebench.models.MLP` specs as plain pytrees of jnp arrays.

Parameters keep core's names (``"<part>.<i>.weight"`` of shape (out, in), ``".bias"``), so
core's numpy initial weights load exactly; a layer computes ``act(W [x, t] + b)`` with ``t``
appended last when the layer has a time input, as :class:`ndebench.models.Dense` says.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ndebench.models import MLP

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),  # torch's default (erf)
    "identity": lambda x: x,
}


def load_params(init: dict[str, np.ndarray], dtype) -> dict[str, jax.Array]:
    return {k: jnp.asarray(np.asarray(v), dtype=dtype) for k, v in init.items()}


def mlp_apply(mlp: MLP, part: str) -> Callable[..., jax.Array]:
    """``apply(params, t, x)`` for a (B, in) input (t a scalar)."""

    def apply(params, t, x):
        for i, layer in enumerate(mlp.layers):
            if layer.time_input:
                tt = jnp.broadcast_to(jnp.asarray(t, x.dtype), (*x.shape[:-1], 1))
                x = jnp.concatenate([x, tt], axis=-1)
            x = x @ params[f"{part}.{i}.weight"].T
            if layer.bias:
                x = x + params[f"{part}.{i}.bias"]
            x = ACTIVATIONS[layer.activation](x)
        return x

    return apply
