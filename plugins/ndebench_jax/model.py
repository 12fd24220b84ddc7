"""Networks from core's :class:`ndebench.models.Chain` specs as plain functions of a pytree.

Parameters keep core's names (``"<part>.<i>.weight"``, see :mod:`ndebench.init`), in
PyTorch's layouts (dense (out, in), conv (out, in, k, k) with NCHW data), so core's numpy
initial weights load exactly and the torch and JAX networks compute the same function: time
inputs append t last (a feature, or a constant channel), batch norm uses the batch's biased
statistics, gelu is the exact (erf) form, the GRU cell uses PyTorch's gate equations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ndebench import models as m

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),  # torch's default (erf)
    "identity": lambda x: x,
}

Apply = Callable[[dict[str, jax.Array], Any, jax.Array], jax.Array]


def load_params(init: dict[str, np.ndarray], dtype) -> dict[str, jax.Array]:
    return {k: jnp.asarray(np.asarray(v), dtype=dtype) for k, v in init.items()}


def _with_time(x: jax.Array, t: Any) -> jax.Array:
    if x.ndim == 4:
        tt = jnp.broadcast_to(jnp.asarray(t, x.dtype), (x.shape[0], 1, *x.shape[2:]))
        return jnp.concatenate([x, tt], axis=1)
    tt = jnp.broadcast_to(jnp.asarray(t, x.dtype), (*x.shape[:-1], 1))
    return jnp.concatenate([x, tt], axis=-1)


def _norm(x: jax.Array, axes: tuple[int, ...], eps: float) -> jax.Array:
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axes, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps)


def _channel(v: jax.Array, ndim: int) -> jax.Array:
    """A per-channel vector broadcast against axis 1 of an ``ndim`` array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def layer_apply(layer: m.Layer, name: str) -> Apply:
    """``apply(params, t, x)`` of one layer whose parameters are ``name + ".weight"`` etc."""
    act = ACTIVATIONS[getattr(layer, "activation", "identity")]
    if isinstance(layer, m.Dense):

        def dense(params, t, x):
            if layer.time_input:
                x = _with_time(x, t)
            y = x @ params[f"{name}.weight"].T
            if layer.bias:
                y = y + params[f"{name}.bias"]
            return act(y)

        return dense
    if isinstance(layer, m.Conv2d):
        pad = layer.padding

        def conv(params, t, x):
            if layer.time_input:
                x = _with_time(x, t)
            y = jax.lax.conv_general_dilated(
                x,
                params[f"{name}.weight"],
                window_strides=(1, 1),
                padding=((pad, pad), (pad, pad)),
                dimension_numbers=("NCHW", "OIHW", "NCHW"),
            )
            if layer.bias:
                y = y + _channel(params[f"{name}.bias"], 4)
            return act(y)

        return conv
    if isinstance(layer, m.BatchNorm):

        def batch_norm(params, t, x):
            axes = (0, *range(2, x.ndim))
            y = _norm(x, axes, layer.eps)
            y = y * _channel(params[f"{name}.weight"], x.ndim)
            return act(y + _channel(params[f"{name}.bias"], x.ndim))

        return batch_norm
    if isinstance(layer, m.GroupNorm):

        def group_norm(params, t, x):
            shape = x.shape
            g = x.reshape(shape[0], layer.num_groups, -1)
            y = _norm(g, (2,), layer.eps).reshape(shape)
            y = y * _channel(params[f"{name}.weight"], x.ndim)
            return act(y + _channel(params[f"{name}.bias"], x.ndim))

        return group_norm
    if isinstance(layer, m.Flatten):
        return lambda params, t, x: x.reshape(x.shape[0], -1)
    if isinstance(layer, m.Reshape):
        return lambda params, t, x: x.reshape(x.shape[0], *layer.shape)
    if isinstance(layer, m.Activation):
        fn = ACTIVATIONS[layer.name]
        return lambda params, t, x: fn(x)
    if isinstance(layer, m.Concat):
        branches = [chain_apply(b, f"{name}.{i}") for i, b in enumerate(layer.branches)]
        return lambda params, t, x: jnp.concatenate([b(params, t, x) for b in branches], axis=1)
    raise TypeError(f"jax backend: layer {type(layer).__name__} needs two inputs (GRU: gru_apply)")


def chain_apply(chain: m.Chain, part: str) -> Apply:
    """``apply(params, t, x)`` of a whole chain (t a scalar; unused without time inputs)."""
    fns = [layer_apply(layer, f"{part}.{i}") for i, layer in enumerate(chain.layers)]

    def apply(params, t, x):
        for fn in fns:
            x = fn(params, t, x)
        return x

    return apply


def gru_apply(name: str) -> Callable[[dict[str, jax.Array], jax.Array, jax.Array], jax.Array]:
    """``gru(params, x, h) -> h'`` of the :class:`ndebench.models.GRUCell` at ``name``."""

    def gru(params, x, h):
        gi = x @ params[f"{name}.weight_ih"].T + params[f"{name}.bias_ih"]
        gh = h @ params[f"{name}.weight_hh"].T + params[f"{name}.bias_hh"]
        ir, iz, in_ = jnp.split(gi, 3, axis=-1)
        hr, hz, hn = jnp.split(gh, 3, axis=-1)
        r = jax.nn.sigmoid(ir + hr)
        z = jax.nn.sigmoid(iz + hz)
        n = jnp.tanh(in_ + r * hn)
        return (1 - z) * n + z * h

    return gru
