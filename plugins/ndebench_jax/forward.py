"""How a batch goes through a model, per model kind (:mod:`ndebench.models`), in JAX.

``make_forward(spec)`` returns ``forward(params, inputs, ts, solve) -> (prediction, extras)``
where ``solve(z0, ts) -> ys`` is the training solve (adjoint, regularizer) or the prediction
solve, closed over by the session. The parts outside the differential-equation block
(encoder, head) are applied here; only the block's parameters reach the solve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from ndebench.models import ModelSpec
from ndebench_jax.model import chain_apply

Forward = Callable[..., tuple[Any, dict[str, Any]]]


def _trajectory(spec: ModelSpec) -> Forward:
    def forward(params, inputs, ts, solve):
        return solve(inputs, ts), {}

    return forward


def _classifier(spec: ModelSpec) -> Forward:
    encoder = chain_apply(spec.parts["encoder"], "encoder") if "encoder" in spec.parts else None
    head = chain_apply(spec.parts["head"], "head")

    def forward(params, inputs, ts, solve):
        z0 = encoder(params, 0.0, inputs) if encoder is not None else inputs
        z0 = z0.reshape(z0.shape[0], -1)
        ys = solve(z0, jnp.stack([ts[0], ts[-1]]))
        return head(params, 0.0, ys[-1]), {}

    return forward


FORWARDS: dict[str, Callable[[ModelSpec], Forward]] = {
    "node_trajectory": _trajectory,
    "node_classifier": _classifier,
}


def block_params(params: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """The differential-equation block's parameters (``ModelSpec.block_parts``): the only ones
    a solver or continuous adjoint sees."""
    prefixes = tuple(f"{part}." for part in spec.block_parts)
    return {k: v for k, v in params.items() if k.startswith(prefixes)}
