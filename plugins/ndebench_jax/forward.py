"""How a batch goes through a model, per model kind (:mod:`ndebench.models`), in JAX.

``FORWARDS[kind](spec)`` returns ``forward(params, inputs, ts, solve) -> (prediction, extras)``
where ``solve(z0, ts) -> ys`` is the training solve (adjoint, regularizer) or the prediction
solve, closed over by the session (an SDE's solve also closes over the step's Brownian key).
The parts outside the differential-equation block (encoder, head) are applied here; only the
block's parameters reach the solve. The SDE kinds are the ODE kinds' forward passes of the
SDE solve; an ``sde_classifier`` predicts with ``n_samples`` paths per sample (one joint solve
of the replicated batch, logits averaged), as the torch backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ndebench.models import ModelSpec
from ndebench_jax.model import chain_apply, gru_apply, layer_apply

Forward = Callable[..., tuple[Any, dict[str, Any]]]


def _trajectory(spec: ModelSpec) -> Forward:
    def forward(params, inputs, ts, solve):
        return solve(inputs, ts), {}

    return forward


def _classifier(spec: ModelSpec) -> Forward:
    encoder = chain_apply(spec.parts["encoder"], "encoder") if "encoder" in spec.parts else None
    head = chain_apply(spec.parts["head"], "head")

    def forward(params, inputs, ts, solve, n_samples=1):
        z0 = encoder(params, 0.0, inputs) if encoder is not None else inputs
        z0 = z0.reshape(z0.shape[0], -1)
        if n_samples > 1:
            z0 = jnp.tile(z0, (n_samples, 1))
        ys = solve(z0, jnp.stack([ts[0], ts[-1]]))
        logits = head(params, 0.0, ys[-1])
        if n_samples > 1:
            logits = logits.reshape(n_samples, -1, logits.shape[-1]).mean(0)
        return logits, {}

    return forward


def _latent_ode(spec: ModelSpec) -> Forward:
    """``latent_ode`` (:mod:`ndebench.tasks.series`); ``inputs`` is a dict: ``x`` (B, T, 2D)
    values and encoder mask, ``gaps`` (B, T), ``index`` (B, T) positions in ``ts`` (the padded
    union grid), ``noise`` (B, latent) eps (zeros in prediction: z0 = mu exactly)."""
    encoder = spec.parts["encoder"]
    gru = gru_apply("encoder.0")
    head = [layer_apply(layer, f"encoder.{i}") for i, layer in enumerate(encoder.layers) if i]
    hidden = encoder.layers[0].hidden_size  # type: ignore[union-attr]
    decoder = chain_apply(spec.parts["decoder"], "decoder")

    def forward(params, inputs, ts, solve):
        x_in = inputs["x"]
        d = x_in.shape[-1] // 2
        values, enc_mask = x_in[..., :d], x_in[..., d:]
        x = jnp.concatenate([values * enc_mask, enc_mask, inputs["gaps"][..., None]], axis=-1)
        seen = (jnp.sum(enc_mask, axis=-1, keepdims=True) > 0).astype(x.dtype)

        def cell(h, xs):
            xi, si = xs
            return si * gru(params, xi, h) + (1 - si) * h, None

        h0 = jnp.zeros((x.shape[0], hidden), x.dtype)
        # backwards in time: scan over the time axis reversed
        h, _ = jax.lax.scan(cell, h0, (jnp.swapaxes(x, 0, 1), jnp.swapaxes(seen, 0, 1)),
                            reverse=True)  # fmt: skip
        for fn in head:
            h = fn(params, 0.0, h)
        mu, logvar = jnp.split(h, 2, axis=-1)
        z0 = mu + jnp.exp(0.5 * logvar) * inputs["noise"]
        ys = solve(z0, ts)  # (U, B, latent)
        zs = ys[inputs["index"], jnp.arange(x.shape[0])[:, None]]
        return decoder(params, 0.0, zs), {"mu": mu, "logvar": logvar}

    return forward


FORWARDS: dict[str, Callable[[ModelSpec], Forward]] = {
    "node_trajectory": _trajectory,
    "node_classifier": _classifier,
    # encoder -> identity block -> head: the session's solve is ``solve.identity_solve``
    "classifier": _classifier,
    "latent_ode": _latent_ode,
    # the solve is the SDE's (ndebench_jax.sde.solve.make_model_sde_solve)
    "sde_classifier": _classifier,
    "sde_trajectory": _trajectory,
}


def block_params(params: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """The differential-equation block's parameters (``ModelSpec.block_parts``): the only ones
    a solver or continuous adjoint sees."""
    prefixes = tuple(f"{part}." for part in spec.block_parts)
    return {k: v for k, v in params.items() if k.startswith(prefixes)}
