"""Task losses by the name a task declares (``AbstractTask.loss``), in JAX.

``loss(prediction, extras, targets, mask, step)``: integer targets (labels) stay integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import optax


def mse(prediction, extras, targets, mask, step):
    sq = (prediction - targets) ** 2
    if mask is None:
        return jnp.mean(sq)
    return jnp.sum(sq * mask) / jnp.maximum(jnp.sum(mask), 1)


def cross_entropy(prediction, extras, targets, mask, step):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(prediction, targets))


def gaussian_elbo(prediction, extras, targets, mask, step, *, obs_std=0.01, kl_warmup=10.0,
                  kl_rate=0.99, kl_w=None):  # fmt: skip
    """Negative ELBO per observed entry (:mod:`ndebench.tasks.series`; the torch definition)."""
    if mask is None:
        mask = jnp.ones_like(targets)
    z = (prediction - targets) / obs_std
    ll = -0.5 * z**2 - math.log(obs_std) - 0.5 * math.log(2 * math.pi)
    mu, logvar = extras["mu"], extras["logvar"]
    kl = 0.5 * jnp.sum(mu**2 + jnp.exp(logvar) - 1.0 - logvar)
    if kl_w is None:
        e = jnp.asarray(step, prediction.dtype) - kl_warmup
        kl_w = jnp.maximum(0.0, 1.0 - jnp.asarray(kl_rate, prediction.dtype) ** e)
    return -(jnp.sum(ll * mask) - kl_w * kl) / jnp.maximum(jnp.sum(mask), 1)


def moment_mse(prediction, extras, targets, mask, step):
    """Squared error of the mean and std over the batch (axis 1) of paths (T, B, D) against
    the targets, averaged over times and coordinates (the torch definition)."""
    dm = prediction.mean(1) - targets.mean(1)
    ds = prediction.std(1) - targets.std(1)
    return jnp.mean(dm**2 + ds**2)


LOSSES: dict[str, Callable[..., Any]] = {
    "mse": mse,
    "cross_entropy": cross_entropy,
    "gaussian_elbo": gaussian_elbo,
    "moment_mse": moment_mse,
}
