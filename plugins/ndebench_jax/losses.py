"""Task losses by the name a task declares (``AbstractTask.loss``), in JAX.

``loss(prediction, extras, targets, mask, step)``: integer targets (labels) stay integers.
"""

from __future__ import annotations

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


LOSSES: dict[str, Callable[..., Any]] = {"mse": mse, "cross_entropy": cross_entropy}
