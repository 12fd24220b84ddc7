"""The JAX backend's optimizer table, shared by its sessions: one place, so an optimizer or a
learning-rate schedule a suite names reaches every JAX cell (ODE and SDE alike)."""

from __future__ import annotations

from typing import Any

from ndebench.backend import UnsupportedCell


def make_optimizer(name: str, learning_rate: float) -> Any:
    """The optax optimizer ``name`` with its learning rate as an injected hyperparameter (set per
    step by :func:`set_learning_rate`); ``UnsupportedCell`` for a name the table lacks."""
    import optax

    makers = {
        "adam": optax.adam,
        "adamax": optax.adamax,
        "sgd": optax.sgd,
        "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
    }
    if name not in makers:
        raise UnsupportedCell(f"jax backend has no optimizer {name!r}")
    return optax.inject_hyperparams(makers[name])(learning_rate=learning_rate)


def set_learning_rate(opt_state: Any, schedule: str, base: float, step: int, device: Any) -> None:
    """Sets the rate in ``opt_state`` to core's schedule at ``step`` (ndebench.schedules.lr_at),
    so both backends use identical rates; a constant schedule leaves the state as it is."""
    if schedule == "constant":
        return
    import jax
    import jax.numpy as jnp

    from ndebench.schedules import lr_at

    hyper = opt_state.hyperparams
    value = jnp.asarray(lr_at(schedule, base, step), hyper["learning_rate"].dtype)
    hyper["learning_rate"] = jax.device_put(value, device)
